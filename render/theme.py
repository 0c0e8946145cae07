"""Visual constants shared by the exporter pages and the chart specs, so that HTML and plotly agree."""

from __future__ import annotations

# Named explicitly: with only Chromium's defaults, CJK and emoji labels draw as empty boxes.
FONT_STACK = '"Inter", "Noto Sans", "Noto Sans CJK SC", "Noto Color Emoji", sans-serif'

TEXT_COLOR = "#1d1f27"
MUTED_COLOR = "#5f6370"
GRID_COLOR = "#e6e7eb"
BACKGROUND = "#ffffff"

# One set of tokens per theme. Charts are specified in the light tokens' colours; a dark page swaps every light
# token for its dark counterpart, in the plotly specs and the page's CSS variables alike.
THEMES: dict[str, dict[str, str]] = {
    "light": {
        "bg": BACKGROUND,
        "text": TEXT_COLOR,
        "muted": MUTED_COLOR,
        "border": GRID_COLOR,
        "surface": "#f5f6f8",
        "zero": "#c3c5cc",
        "land": "#eef0f4",
    },
    "dark": {
        "bg": "#1d1f27",
        "text": "#eef0f4",
        "muted": "#9ea2ad",
        "border": "#3a3d48",
        "surface": "#262933",
        "zero": "#5a5e6b",
        "land": "#2c2f3a",
    },
}
THEME_NAMES = tuple(THEMES)

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
MAX_PAGE_WIDTH = 3200  # the widest page a caller may ask for
READABLE_MAX_WIDTH = 1600  # content never widens an image past this: Slack and mail scale wider images down


def color_at(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def theme_name(name: str | None) -> str:
    """A theme people asked for ("dark", "Dark"), or light."""
    return name.lower() if isinstance(name, str) and name.lower() in THEMES else "light"


def css_variables(name: str) -> str:
    """The page's CSS custom properties for a theme, e.g. "--bg: #1d1f27; --text: ..."."""
    return "; ".join(f"--{token}: {value}" for token, value in THEMES[theme_name(name)].items())


def recolor(spec: object, name: str) -> object:
    """A plotly spec drawn with the light tokens, in theme `name`: every light token colour swapped for the theme's."""
    theme = theme_name(name)
    if theme == "light":
        return spec
    swaps = {light.lower(): THEMES[theme][token] for token, light in THEMES["light"].items()}
    swaps["rgba(0,0,0,0)"] = "rgba(0,0,0,0)"

    def walk(value: object) -> object:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.lower() in swaps:
            return swaps[value.lower()]
        return value

    return walk(spec)
