"""Numbers, percentages, times and labels as people read them in an image."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posthog_api.content import AxisFormat, Formatting

# Symbols of the currencies PostHog projects most often use; others are shown by their ISO code.
CURRENCY_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "BRL": "R$",
    "AUD": "A$",
    "CAD": "CA$",
    "CHF": "CHF ",
    "KRW": "₩",
    "MXN": "MX$",
    "PLN": "zł ",
    "SEK": "kr ",
    "NZD": "NZ$",
}


def number(value: float | int | None, decimals: int | None = None) -> str:
    """As PostHog's humanFriendlyNumber: thousands separated, up to two decimals (never a blanket rounding of big
    numbers: 38579.14 stays 38,579.14), or exactly `decimals` when the insight sets its decimal places."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if decimals is not None:
        return f"{value:,.{max(0, min(decimals, 10))}f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def value(amount: float | int | None, formatting: Formatting | None = None) -> str:
    """A value as the insight's formatting options say (aggregationAxisFormat, prefix/postfix, decimal places)."""
    if formatting is None:
        return number(amount)
    if amount is None or (isinstance(amount, float) and math.isnan(amount)):
        return "–"
    places = formatting.decimal_places
    match formatting.axis_format:
        case AxisFormat.DURATION:
            text = duration(amount)
        case AxisFormat.DURATION_MS:
            text = f"{number(amount, 0)}ms" if abs(amount) < 1000 else duration(amount / 1000)
        case AxisFormat.PERCENTAGE:
            text = number(amount, places) + "%"
        case AxisFormat.PERCENTAGE_SCALED:
            text = number(amount * 100, places) + "%"
        case AxisFormat.CURRENCY:
            code = formatting.currency.upper()
            symbol = CURRENCY_SYMBOLS.get(code, code + " ")
            sign = "-" if amount < 0 else ""
            text = f"{sign}{symbol}{number(abs(amount), 2 if places is None else places)}"
        case _:
            text = number(amount, places)
    return f"{formatting.prefix}{text}{formatting.postfix}"


def percent(ratio: float) -> str:
    """0.4567 -> "45.7%"; whole percentages lose the decimal."""
    value = ratio * 100
    if value.is_integer():
        return f"{int(value)}%"
    return f"{value:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0:
        return "-" + duration(-seconds)
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


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def refreshed_at(iso: str | None, time_zone: str | None = None) -> str:
    """PostHog's ISO timestamp of computation, in `time_zone` (the subscription's) or UTC."""
    return timestamp(iso, time_zone, with_zone=True)


def timestamp(iso: object, time_zone: str | None = None, *, with_zone: bool = False) -> str:
    """An ISO timestamp as PostHog shows it in the project's (or given) zone: "2023-06-06 21:14"; "" if not one."""
    if not isinstance(iso, str) or not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone(time_zone) or UTC)
    text = local.strftime("%Y-%m-%d %H:%M")
    if with_zone:
        text += " " + (local.tzname() or "UTC")
    return text


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
