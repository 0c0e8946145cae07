"""Numbers, percentages, times and labels as people read them in an image."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime


def number(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def percent(ratio: float) -> str:
    """0.4567 -> "45.7%"; whole percentages lose the decimal."""
    value = ratio * 100
    if value.is_integer():
        return f"{int(value)}%"
    return f"{value:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def refreshed_at(iso: str | None) -> str:
    """PostHog's ISO timestamp of computation, shown in UTC."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plotly_text(text: object, limit: int = 80) -> str:
    """A user label as plotly text: plotly reads `<b>`, `<a>`, `<br>` in labels, so escape them to draw literally."""
    return html.escape(shorten(str(text), limit), quote=False)


def cell(value: object, limit: int = 120) -> str:
    """One table cell of user data as display text (escaped later by the template)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value)
    return shorten(str(value), limit)
