"""Small, strict readers of raw PostHog JSON, shared by every family of insight.

`Shape` is raised when results do not have the shape their insight type promises; the insight then becomes
UNSUPPORTED with the reason, so that one odd tile never breaks a whole dashboard delivery.
"""

from __future__ import annotations

import math
from typing import Any


class Shape(Exception):
    """Results that do not have the shape their insight type promises."""


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def num(value: object) -> float:
    """A chart value. null (no data for that point) counts as 0; anything non-numeric is a shape error."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Shape(f"expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise Shape("expected a finite number")
    return number


def optional_num(value: object) -> float | None:
    """A value where null means "no data" (a previous period that was not computed), not zero."""
    return None if value is None else num(value)


def integer(value: object) -> int:
    return int(num(value))


def as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Shape(f"expected {what}")
    return value


def obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Shape(f"expected {what}")
    return value


def truthy_flag(value: object) -> bool:
    # PostHog stores some flags as strings ("optionalInFunnel": "true").
    return value is True or (isinstance(value, str) and value.lower() == "true")


def int_set(values: object) -> set[int]:
    out: set[int] = set()
    for v in values if isinstance(values, list) else []:
        if isinstance(v, int) and not isinstance(v, bool):
            out.add(v)
    return out


def dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
