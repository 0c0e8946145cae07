"""Visual constants shared by the exporter pages and the chart specs, so that HTML and plotly agree."""

from __future__ import annotations

# Named explicitly: with only Chromium's defaults, CJK and emoji labels draw as empty boxes.
FONT_STACK = '"Inter", "Noto Sans", "Noto Sans CJK SC", "Noto Color Emoji", sans-serif'

TEXT_COLOR = "#1d1f27"
MUTED_COLOR = "#5f6370"
GRID_COLOR = "#e6e7eb"
BACKGROUND = "#ffffff"

# PostHog's data colours, in the order PostHog assigns them to series.
PALETTE = [
    "#1d4aff",
    "#621da6",
    "#42827e",
    "#ce0e74",
    "#f14f58",
    "#7c440e",
    "#529a0a",
    "#0476fb",
    "#fe729e",
    "#35416b",
    "#41cbc4",
    "#b64b02",
    "#e4a604",
    "#a56eff",
    "#30d5c8",
]

LIFECYCLE_COLORS = {
    "new": "#1d4aff",
    "returning": "#42827e",
    "resurrecting": "#a56eff",
    "dormant": "#f14f58",
}
LIFECYCLE_ORDER = ["new", "resurrecting", "returning", "dormant"]

PAGE_PADDING = 24  # CSS px around an insight page; charts are laid out inside it
DASHBOARD_COLUMNS = 12
DASHBOARD_ROW_HEIGHT = 72  # CSS px of one PostHog grid row
DASHBOARD_GAP = 16
DEFAULT_DASHBOARD_WIDTH = 1200
MAX_PAGE_WIDTH = 3200  # a wide funnel or table grows the page, up to this


def color_at(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
