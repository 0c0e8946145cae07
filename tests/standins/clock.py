"""A monotonic clock that moves only when the code under test sleeps on it: pacing and back-off are checked
(how long it would have waited) without the test waiting."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)  # still let other tasks run, as a real wait would
