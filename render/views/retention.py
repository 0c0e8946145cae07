"""Retention: the cohort table, shaded by the share of each cohort still active."""

from __future__ import annotations

from posthog_api.content import Insight

from .. import formatting as fmt
from ..theme import TEXT_COLOR
from . import charts
from .model import InsightView, RetentionCell, RetentionRowView, RetentionView


def retention(insight: Insight, view: InsightView, chart_width: int) -> None:
    rows = insight.retention
    if not rows:
        charts.empty(view)
        return
    periods = max(len(r.counts) for r in rows)
    columns = [f"{insight.retention_period} {i}" for i in range(periods)]
    out = []
    for row in rows:
        cells: list[RetentionCell | None] = []
        for i in range(periods):
            if i >= len(row.counts):
                cells.append(None)
                continue
            ratio = row.counts[i] / row.cohort_size if row.cohort_size else 0.0
            # Shade like PostHog: the darker, the more of the cohort is still active.
            alpha = 0.08 + 0.92 * ratio if row.cohort_size else 0.0
            cells.append(
                RetentionCell(
                    text=fmt.percent(round(ratio, 3)) if row.cohort_size else "–",
                    background=f"rgba(29, 74, 255, {alpha:.3f})",
                    color="#ffffff" if alpha > 0.5 else TEXT_COLOR,
                )
            )
        out.append(RetentionRowView(row.label, row.date[:10], fmt.number(row.cohort_size), cells))
    view.body = "retention"
    view.retention = RetentionView(columns, out)
    view.min_width = min(3000, 260 + 72 * periods)
