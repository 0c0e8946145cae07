"""Web analytics overview: PostHog's row of numbers (visitors, views, sessions...) with their change."""

from __future__ import annotations

from posthog_api.content import AxisFormat, Formatting, Insight, OverviewItem

from .. import formatting as fmt
from . import charts
from .model import InsightView, OverviewCard

_FORMATS = {
    "duration_s": Formatting(axis_format=AxisFormat.DURATION),
    "percentage": Formatting(axis_format=AxisFormat.PERCENTAGE),
    "currency": Formatting(axis_format=AxisFormat.CURRENCY),
}


def _card(item: OverviewItem, currency: str) -> OverviewCard:
    formatting = _FORMATS.get(item.kind, Formatting())
    if formatting.axis_format is AxisFormat.CURRENCY:
        formatting = Formatting(axis_format=AxisFormat.CURRENCY, currency=currency)  # the project's currency
    card = OverviewCard(label=item.label, value=fmt.value(item.value, formatting))
    if item.value is None:
        return card
    if item.previous is None:
        card.change, card.direction = "No data for comparison", "flat"
    elif item.previous == item.value:
        card.change, card.direction = "no change", "flat"
    elif item.previous:
        ratio = (item.value - item.previous) / abs(item.previous)
        up = ratio > 0
        card.change = ("▲ " if up else "▼ ") + fmt.percent(round(abs(ratio), 3))
        card.direction = "bad" if up == item.increase_is_bad else "good"
    return card


def overview(insight: Insight, view: InsightView, chart_width: int) -> None:
    if not insight.overview:
        charts.empty(view)
        return
    view.body = "overview"
    view.overview = [_card(item, insight.formatting.currency) for item in insight.overview]
