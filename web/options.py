"""A viewer's options, as query parameters of every page and variant: `theme=light|dark`, `whitelabel`,
`noHeader`, `legend=0`, `width=PX`, `refresh=SECONDS`. A value that makes no sense is refused with a message
naming the parameter (a 400 page), never guessed at and never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from render.theme import MAX_PAGE_WIDTH

MIN_WIDTH = 320  # the renderer's own bounds (render/renderer.py)
MIN_REFRESH, MAX_REFRESH = 60, 86400  # a wall screen reloads at most once a minute, at least once a day
_TRUE, _FALSE = ("", "1", "true", "yes", "on"), ("0", "false", "no", "off")
KNOWN = ("theme", "whitelabel", "noHeader", "legend", "width", "refresh")


class OptionError(ValueError):
    """A query parameter with a value it cannot have; the message is for people."""


@dataclass(frozen=True)
class ViewOptions:
    theme: str = "light"
    whitelabel: bool = False
    no_header: bool = False
    legend: bool = True
    width: int | None = None  # None: the content's own (an insight's default width, a dashboard's grid)
    refresh: int | None = None  # seconds between reloads of the page

    def key(self) -> tuple:
        """What distinguishes two drawings (cache keys)."""
        return (self.theme, self.whitelabel, self.no_header, self.legend, self.width, self.refresh)

    def query(self) -> str:
        """These options as a query string (what `/embed.js` and links pass on)."""
        parts = [f"theme={self.theme}"] if self.theme != "light" else []
        parts += [name for name, on in (("whitelabel", self.whitelabel), ("noHeader", self.no_header)) if on]
        parts += [] if self.legend else ["legend=0"]
        parts += [f"width={self.width}"] if self.width else []
        parts += [f"refresh={self.refresh}"] if self.refresh else []
        return "&".join(parts)


def parse_options(query: Mapping[str, str]) -> ViewOptions:
    theme = query.get("theme", "light").strip().lower() or "light"
    if theme not in ("light", "dark"):
        raise OptionError(f"theme must be light or dark, not {theme[:20]!r}.")
    return ViewOptions(
        theme=theme,
        whitelabel=_flag(query, "whitelabel", False),
        no_header=_flag(query, "noHeader", False),
        legend=_flag(query, "legend", True),
        width=_number(query, "width", MIN_WIDTH, MAX_PAGE_WIDTH),
        refresh=_number(query, "refresh", MIN_REFRESH, MAX_REFRESH),
    )


def _flag(query: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in query:
        return default
    value = query[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise OptionError(f"{name} is a yes or no (1 or 0), not {value[:20]!r}.")


def _number(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise OptionError(f"{name} must be a whole number from {low} to {high}, not {value[:20]!r}.")
    return int(value)
