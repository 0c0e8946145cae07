"""World map: one value per country, as PostHog's WorldMap display draws it (a choropleth).

PostHog breaks down by `$geoip_country_code` (ISO 3166 alpha-2); plotly.js locates countries by alpha-3, so the
codes are translated with pycountry. The map shapes (Natural Earth 1:110m topojson) are served by us beside
plotly.js (render/static/topojson/), never fetched from a CDN.
"""

from __future__ import annotations

from functools import cache

from posthog_api.content import Insight

from .. import formatting as fmt
from ..theme import color_at
from . import charts
from .model import ChartView, InsightView, LegendItem

MAP_LEGEND_ITEMS = 8  # the countries named under the map; the map shows every one
_SCALE = [[0.0, "#dfe5ff"], [1.0, "#1d4aff"]]  # PostHog's map: light to its primary blue


@cache
def _alpha3(code: str) -> str | None:
    import pycountry  # imported here: only world maps need it; a clear message below when it is missing

    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None and len(code) == 3:
        country = pycountry.countries.get(alpha_3=code.upper())
    return country.alpha_3 if country else None


def _pycountry_missing() -> bool:
    try:
        import pycountry  # noqa: F401
    except ImportError:
        return True
    return False


def world_map(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = sorted(charts.visible(insight.series), key=charts.aggregated, reverse=True)
    if not series:
        charts.empty(view)
        return
    if _pycountry_missing():
        view.body = "unsupported"
        view.message = "World maps need the pycountry package on the exporter (pip install pycountry)."
        return
    f = insight.formatting
    located = [(s, _alpha3(s.breakdown_value or s.label)) for s in series]
    codes = [(s, code) for s, code in located if code]
    trace = {
        "type": "choropleth",
        "locationmode": "ISO-3",
        "locations": [code for _, code in codes],
        "z": [charts.aggregated(s) for s, _ in codes],
        "text": [fmt.plotly_text(s.breakdown_value or s.label) for s, _ in codes],
        "colorscale": _SCALE,
        "zmin": 0,
        "showscale": False,
        "marker": {"line": {"color": "#ffffff", "width": 0.6}},
    }
    layout = charts.layout(
        geo={
            "scope": "world",
            "resolution": 110,
            "projection": {"type": "natural earth"},
            "showframe": False,
            "showcoastlines": False,
            "showcountries": True,
            "countrycolor": "#ffffff",
            "showland": True,
            "landcolor": "#eef0f4",
            "bgcolor": "rgba(0,0,0,0)",
            "lataxis": {"range": [-57, 85]},
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
    )
    height = max(240, min(620, round(chart_width * 0.5)))
    view.chart = ChartView([trace], layout, height)
    view.legend = [
        LegendItem(
            s.breakdown_value or s.label, color_at(0) if i == 0 else "#7f98ff", fmt.value(charts.aggregated(s), f)
        )
        for i, s in enumerate(series[:MAP_LEGEND_ITEMS])
    ]
    unplaced = len(located) - len(codes)
    view.legend_more = max(0, len(series) - MAP_LEGEND_ITEMS)
    if unplaced:
        view.summary = f"{unplaced} value{'s' if unplaced != 1 else ''} without a known country code not on the map"
