"""PostHog insight and dashboard payloads -> the content model in `posthog_api/content.py`.

Two rules shape this package:
- A payload that is not an insight (not an object, no id) raises `PostHogPayloadError`: the caller asked for
  something and got something else.
- An insight we cannot draw (no results yet, a kind we do not support, results in an unexpected shape) becomes
  `ChartKind.UNSUPPORTED` with a reason, so that one odd tile never breaks a whole dashboard delivery.

Where things are: `spec.py` reads the chart definition (query or legacy filters), `registry.py` maps each
insight type to its family's reader (`trends.py`, `funnels.py`, `retention.py`, `paths.py`, `sql.py`, ...),
`insight.py` and `dashboard.py` are the entry points, `readers.py` and `labels.py` are shared helpers.
"""

from .dashboard import normalize_dashboard
from .insight import UNTITLED, currency_code, normalize_insight, shows_currency
from .labels import breakdown_label, event_label

__all__ = [
    "UNTITLED",
    "breakdown_label",
    "currency_code",
    "event_label",
    "normalize_dashboard",
    "normalize_insight",
    "shows_currency",
]
