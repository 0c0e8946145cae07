"""Data tables PostHog users put on dashboards: events (EventsQuery), persons (ActorsQuery) and web analytics
(web stats tables, the web overview numbers). Cells keep their raw values; each column says how PostHog renders
it (an event by its name, a person by email or name, a timestamp in the project's time zone)."""

from __future__ import annotations

import re
from typing import Any

from ..content import ChartKind, Insight, OverviewItem, Table
from .labels import event_label
from .readers import as_dict, dicts, optional_num, text
from .spec import Spec
from .sql import read_rows

# Display names PostHog gives its own properties (frontend taxonomy), for column titles.
CORE_PROPERTIES = {
    "$current_url": "Current URL",
    "$pathname": "Path name",
    "$host": "Host",
    "$lib": "Library",
    "$lib_version": "Library version",
    "$browser": "Browser",
    "$browser_version": "Browser version",
    "$os": "OS",
    "$device_type": "Device type",
    "$referrer": "Referrer URL",
    "$referring_domain": "Referring domain",
    "$screen_name": "Screen name",
    "$geoip_country_code": "Country code",
    "$geoip_country_name": "Country name",
    "$geoip_city_name": "City name",
    "$session_id": "Session ID",
    "email": "Email",
    "name": "Name",
}
_TIME_COLUMNS = {"timestamp", "created_at", "last_seen", "first_seen", "$start_timestamp", "session.$start_timestamp"}
_UI_ONLY = {"person.$delete"}  # PostHog's row actions, not data
_WEB_COLUMN = re.compile(r"^context\.columns\.(.+)$")
_WEB_TITLES = {"breakdown_value": None, "visitors": "Visitors", "views": "Views", "bounce_rate": "Bounce rate",
               "average_scroll_percentage": "Average scroll", "scroll_gt80_percentage": "Deep scroll rate",
               "session_duration": "Session duration", "clicks": "Clicks", "conversion_rate": "Conversion rate",
               "total_conversions": "Total conversions", "unique_conversions": "Unique conversions",
               "action_name": "Action", "converting_users": "Converting users"}  # fmt: skip
_WEB_RATIOS = {"bounce_rate", "average_scroll_percentage", "scroll_gt80_percentage", "conversion_rate"}


def column_title(expression: str) -> tuple[str, str]:
    """A select expression -> (title, how its cells render: "event" | "person" | "time" | "")."""
    if " -- " in expression:  # PostHog's convention: the comment after -- names the column
        label = expression.rsplit(" -- ", 1)[1].strip()
        return label, "time" if expression.split(" -- ")[0].strip() in _TIME_COLUMNS else ""
    if expression == "*":
        return "Event", "event"
    if expression == "event":
        return "Event", "event"
    if expression in ("person", "person_display_name -- Person"):
        return "Person", "person"
    if expression in _TIME_COLUMNS:
        return ("Time" if expression == "timestamp" else expression.replace("_", " ").capitalize()), "time"
    for prefix in ("properties.", "person.properties."):
        if expression.startswith(prefix):
            key = expression[len(prefix) :]
            return CORE_PROPERTIES.get(key, key), ""
    return expression, ""


def read_events(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    """EventsQuery and ActorsQuery rows: the select list names the columns."""
    insight.kind = ChartKind.EVENTS_TABLE
    select = [c for c in spec.source.get("select", []) if isinstance(c, str)]
    data = dict(payload)
    if not isinstance(data.get("columns"), list) and select:
        data["columns"] = select
    table = read_rows(data, result)
    keep = [i for i, c in enumerate(table.columns) if c not in _UI_ONLY]
    titles, kinds = zip(*(column_title(table.columns[i]) for i in keep), strict=True) if keep else ((), ())
    rows = [
        [_cell(row[i] if i < len(row) else None, kind) for i, kind in zip(keep, kinds, strict=True)]
        for row in table.rows
    ]
    insight.table = Table(columns=list(titles), rows=rows, kinds=list(kinds), has_more=payload.get("hasMore") is True)


def _cell(value: object, kind: str) -> object:
    """An event shows its name and a person their email or name, as PostHog's data table renders them."""
    if kind == "event":
        name = as_dict(value).get("event") if isinstance(value, dict) else value
        return event_label(name) if isinstance(name, str) else name
    if kind == "person" and isinstance(value, dict):
        props = as_dict(value.get("properties"))
        ids = value.get("distinct_ids")
        first_id = ids[0] if isinstance(ids, list) and ids else None
        for candidate in (props.get("email"), props.get("name"), value.get("display_name"), value.get("distinct_id"),
                          first_id, value.get("id"), value.get("uuid")):  # fmt: skip
            if text(candidate):
                return candidate
        return None
    return value


def read_web_stats(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    """Web analytics tables: a breakdown column and metrics given as (current, previous) pairs."""
    insight.kind = ChartKind.EVENTS_TABLE
    table = read_rows(payload, result)
    breakdown = text(spec.source.get("breakdownBy")) or "Value"
    titles, kinds = [], []
    for column in table.columns:
        name = m[1] if (m := _WEB_COLUMN.match(column)) else column
        title = _WEB_TITLES.get(name, name.replace("_", " ").capitalize())
        titles.append(breakdown if title is None else title)
        kinds.append("ratio" if name in _WEB_RATIOS else "duration" if name == "session_duration" else "")
    rows = [[cell[0] if isinstance(cell, list) and cell else cell for cell in row] for row in table.rows]
    insight.table = Table(columns=titles, rows=rows, kinds=kinds)


_OVERVIEW_LABELS = {"visitors": "Visitors", "views": "Page views", "sessions": "Sessions",
                    "session duration": "Session duration", "bounce rate": "Bounce rate",
                    "lcp score": "LCP score", "conversion rate": "Conversion rate", "revenue": "Revenue"}  # fmt: skip


def read_web_overview(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    """The web analytics overview: one number per metric, with the previous period's."""
    insight.kind = ChartKind.WEB_OVERVIEW
    for item in dicts(result):
        key = text(item.get("key")) or ""
        insight.overview.append(
            OverviewItem(
                label=_OVERVIEW_LABELS.get(key, key.capitalize()),
                value=optional_num(item.get("value")),
                previous=optional_num(item.get("previous")),
                kind=text(item.get("kind")) or "unit",
                increase_is_bad=as_dict(item).get("isIncreaseBad") is True,
            )
        )
