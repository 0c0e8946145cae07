"""Exporter pages held in memory under random tokens, for the browser to fetch while it renders them."""

from __future__ import annotations

import secrets
import time

from .pages import ExporterPage

DEFAULT_TTL_SECONDS = 600.0


class PageStore:
    """Tokens are unguessable, so a page is only reachable by the renderer that put it there."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._pages: dict[str, tuple[ExporterPage, float]] = {}

    def put(self, page: ExporterPage) -> str:
        self._expire()
        token = secrets.token_urlsafe(24)
        self._pages[token] = (page, time.monotonic() + self._ttl)
        return token

    def get(self, token: str) -> ExporterPage | None:
        entry = self._pages.get(token)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def discard(self, token: str) -> None:
        self._pages.pop(token, None)

    def __len__(self) -> int:
        return len(self._pages)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, expires) in self._pages.items() if expires < now]:
            del self._pages[token]
