"""Understand what people paste to name PostHog content: "42", "abc123XY", or a PostHog link."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import unquote, urlsplit

ReferenceKind = Literal["insight", "dashboard"]

# PostHog short ids are 8 letters/digits; we also accept hyphens and underscores (the demo uses "dm-...").
_SHORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
_PATH = re.compile(r"^(?:/project/(?P<project>\d+))?/(?P<what>insights?|dashboards?)/(?P<ref>[A-Za-z0-9_-]+)(?:/.*)?$")

_EXAMPLES = (
    "Paste a link to a PostHog insight or dashboard "
    "(like https://us.posthog.com/project/2/insights/abc123XY or .../dashboard/42), "
    "a dashboard number, or an insight's short ID."
)


class InvalidReference(ValueError):
    """Text that names no PostHog insight or dashboard; `str()` is a friendly message."""


def _clean(text: str) -> str:
    text = text.strip()
    # Slack sends links as <https://...> or <https://...|label>.
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].split("|", 1)[0].strip()
    return text


def parse_posthog_reference(text: str) -> tuple[ReferenceKind | None, int | str]:
    """("insight" | "dashboard" | None, numeric id or short id).

    A bare number could be either, so its kind is None; a short id is always an insight (dashboards have
    only numeric ids); a link says which it is.
    """
    if not isinstance(text, str) or not _clean(text):
        raise InvalidReference(f"Nothing to look up. {_EXAMPLES}")
    value = _clean(text)
    if value.isascii() and value.isdigit():
        return None, int(value)
    if "/" not in value and _SHORT_ID.match(value):
        return "insight", value

    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
    except ValueError:  # e.g. an unbalanced "[" (urlsplit reads it as an IPv6 address)
        raise InvalidReference(f"“{value}” is not a PostHog insight or dashboard. {_EXAMPLES}") from None
    path = unquote(parts.path).rstrip("/")
    if path.startswith("/shared/") or path.startswith("/embedded/"):
        raise InvalidReference(
            f"“{value}” is a shared link, which does not say which insight or dashboard it is. "
            "Open the insight or dashboard in PostHog and copy the link from the address bar."
        )
    match = _PATH.match(path)
    if not parts.netloc or match is None:
        raise InvalidReference(f"“{value}” is not a PostHog insight or dashboard. {_EXAMPLES}")
    ref = match["ref"]
    if match["what"].startswith("dashboard"):
        if not ref.isdigit():
            raise InvalidReference(f"“{value}” does not end in a dashboard number. {_EXAMPLES}")
        return "dashboard", int(ref)
    if ref in ("new", "edit"):
        raise InvalidReference(f"“{value}” is not a saved insight yet. Save it in PostHog first.")
    return "insight", int(ref) if ref.isdigit() else ref
