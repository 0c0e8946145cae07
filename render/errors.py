"""Errors of `render/`. Messages are meant for people: they say what could not be drawn."""

from __future__ import annotations


class RenderError(Exception):
    """The page could not be turned into an image; no image is returned."""


class RenderTimeout(RenderError):
    """The page did not become ready in time. `tiles` names what was still drawing."""

    def __init__(self, message: str, tiles: list[str] | None = None) -> None:
        super().__init__(message)
        self.tiles = tiles or []


class BrowserCrashed(RenderError):
    """The browser session died (or could not start) during a render."""
