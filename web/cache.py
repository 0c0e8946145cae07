"""What keeps anonymous traffic to a share link from reaching PostHog or the database too often: the content cache
(one PostHog fetch per share per SHARE_CACHE_SECONDS, however many requests arrive at once) and the per-token
request rate (SHARE_REQUESTS_PER_MINUTE). Both are per process, like the API's rate: N `serve` processes behind a
load balancer fetch at most N times per period."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# A failed fetch is remembered briefly too: a PostHog that is down is not asked again by every visitor.
FAILURE_SECONDS = 15.0
MAX_ENTRIES = 2000  # shares kept at once; the oldest go first


@dataclass
class Entry:
    expires: float
    content: asyncio.Future  # the normalized content, or the error its fetch raised (awaiting it raises it)
    derived: dict[Any, Any] = field(default_factory=dict)  # pages built from the content, by options


class ContentCache:
    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[Any, Entry] = {}

    async def get(self, key: Any, load: Callable[[], Awaitable[Any]]) -> Entry:
        """The entry of `key`, loading it once when it is missing or stale; concurrent callers share one load.
        Awaiting `entry.content` gives the content or raises the load's error."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None or entry.expires <= now:
            # A task of its own: a visitor who goes away mid-fetch does not cancel it for the others.
            entry = Entry(now + self.seconds, asyncio.ensure_future(load()))
            self._entries[key] = entry
            self._trim()
            entry.content.add_done_callback(lambda done, entry=entry: self._failed(done, entry, now))
        await asyncio.wait([entry.content])
        return entry

    def _failed(self, done: asyncio.Future, entry: Entry, started: float) -> None:
        if done.cancelled() or done.exception() is not None:
            entry.expires = started + min(self.seconds, FAILURE_SECONDS)

    def forget(self, key: Any) -> None:
        self._entries.pop(key, None)

    def _trim(self) -> None:
        while len(self._entries) > MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))


class RequestRate:
    """A sliding window of requests per key (a share's token): at most `per_minute` in any minute."""

    WINDOW = 60.0

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def take(self, key: str) -> int | None:
        """None when one more request is allowed (and counted); else the seconds until it would be."""
        now = self.clock()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.WINDOW:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return max(1, math.ceil(seen[0] + self.WINDOW - now))
        seen.append(now)
        if len(self._seen) > MAX_ENTRIES * 10:  # idle keys do not pile up in a long-running process
            for idle in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.WINDOW]:
                del self._seen[idle]
        return None
