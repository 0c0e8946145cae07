"""One retry policy for everything that talks to another service.

Who retries what, once each:
- PostHog requests: the PostHog client (429, 5xx, lost connections; Retry-After honoured). The pipeline never
  retries a fetch the client already retried.
- Email: `mail/` retries each message on temporary SMTP failures (4xx, lost connections) on the connection it
  holds. The pipeline does not retry email.
- Slack: the Slack SDK only waits out a 429's Retry-After (Slack's own instruction, capped); every other
  temporary failure (5xx, network) is retried by the pipeline, which resumes where the failed send stopped.
- Rendering: the pipeline retries a render that timed out or lost its browser.

Every delay between two tries comes from `backoff_delay` (or `retry_after_delay` when the server named one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_DELAY_SECONDS = 60.0


def backoff_delay(attempt: int, base_seconds: float, *, cap: float = MAX_DELAY_SECONDS) -> float:
    """Seconds to wait after failed try number `attempt` (1-based): exponential with full jitter, so that retries
    from many workers against one service do not arrive together."""
    return random.uniform(0, min(cap, base_seconds * 2 ** (max(attempt, 1) - 1)))


def retry_after_delay(seconds: float) -> float:
    """A server-named wait (Retry-After), plus a little jitter so that waiting clients do not return together."""
    return max(seconds, 0.0) + random.uniform(0, 0.25)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    base_seconds: float = 2.0

    def delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self.base_seconds)

    def should_retry(self, attempt: int) -> bool:
        return attempt < max(self.attempts, 1)
