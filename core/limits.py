"""Fair limits on work that one request can ask of everyone's resources: previews (the browser pool), sends now
(a whole delivery), exports (PostHog's query API and a worker) and connects (a request to a host someone typed).

Each action has a budget per person and per workspace within a sliding window (RATE_LIMITS_PER_USER,
RATE_LIMITS_PER_WORKSPACE, RATE_LIMIT_WINDOW_SECONDS). Every door (Slack, the API) takes from the same
`RateLimiter` before it starts the work, and tells the person when to try again. The counts are kept per process:
what they protect, the browser pool and the process's PostHog budget, is per process too. The command line is
the operator's and is not limited.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping

ACTIONS = {"preview": "previews", "send": "sends", "export": "exports", "connect": "connection checks"}
DEFAULT_PER_USER = {"preview": 5, "send": 5, "export": 10, "connect": 5}
DEFAULT_PER_WORKSPACE = {"preview": 30, "send": 30, "export": 30, "connect": 20}


class RateLimited(Exception):
    """Too many of one action; `retry_after` is the whole number of seconds until one more is allowed."""

    def __init__(self, action: str, scope: str, limit: int, window: float, retry_after: int) -> None:
        self.action, self.scope, self.limit, self.retry_after = action, scope, limit, retry_after
        whose = "one person" if scope == "user" else "one workspace"
        super().__init__(
            f"That is more {ACTIONS[action]} than {whose} may ask for: {limit} every {_period(window)}. "
            f"Try again in {retry_after} second{'s' if retry_after != 1 else ''}."
        )


def budgets(given: Mapping[str, int], defaults: Mapping[str, int]) -> dict[str, int]:
    """`given` over `defaults`, refusing unknown actions and budgets below 1 (the settings' validation)."""
    unknown = set(given) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown action {', '.join(sorted(unknown))}; the actions are {', '.join(ACTIONS)}")
    if any(not isinstance(n, int) or n < 1 for n in given.values()):
        raise ValueError("each budget is a whole number of at least 1")
    return {**defaults, **given}


class RateLimiter:
    def __init__(
        self,
        per_user: Mapping[str, int],
        per_workspace: Mapping[str, int],
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = budgets(per_user, DEFAULT_PER_USER)
        self.per_workspace = budgets(per_workspace, DEFAULT_PER_WORKSPACE)
        self.window = window_seconds
        self.clock = clock
        self._taken: dict[tuple, deque[float]] = {}

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:
        return cls(settings.rate_limits_per_user, settings.rate_limits_per_workspace,
                   settings.rate_limit_window_seconds)

    def take(self, action: str, *, workspace: object, user: object) -> None:
        """Count one `action` for `user` of `workspace`, or raise RateLimited (counting nothing) when either
        budget is spent."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        now = self.clock()
        scopes = [
            ("user", (action, workspace, user), self.per_user[action]),
            ("workspace", (action, workspace), self.per_workspace[action]),
        ]
        for scope, key, limit in scopes:
            taken = self._recent(key, now)
            if len(taken) >= limit:
                wait = max(1, math.ceil(taken[0] + self.window - now))
                raise RateLimited(action, scope, limit, self.window, wait)
        for _scope, key, _limit in scopes:
            self._taken.setdefault(key, deque()).append(now)

    def _recent(self, key: tuple, now: float) -> deque[float]:
        taken = self._taken.get(key)
        if taken is None:
            return deque()
        while taken and taken[0] <= now - self.window:
            taken.popleft()
        if not taken:
            del self._taken[key]  # idle keys do not pile up in a long-running process
        return taken


def _period(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"
