"""Kinds we cannot draw: an explicit card saying why, never an empty box."""

from __future__ import annotations

from posthog_api.content import Insight

from .model import InsightView


def unsupported(insight: Insight, view: InsightView, chart_width: int) -> None:
    view.body = "unsupported"
    view.message = insight.unsupported_reason or "This kind of insight can't be exported as an image yet."
