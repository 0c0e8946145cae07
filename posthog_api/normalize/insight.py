"""One insight payload -> `Insight`: identity, chart definition, date range, then its family's reader."""

from __future__ import annotations

from typing import Any

from ..content import AxisFormat, ChartKind, Dashboard, Insight
from ..daterange import describe_date_range
from ..errors import PostHogPayloadError
from . import spec as specs
from .readers import Shape, text
from .registry import READERS

UNTITLED = "Untitled insight"


def identity(payload: object, what: str) -> tuple[dict[str, Any], int]:
    if not isinstance(payload, dict):
        raise PostHogPayloadError(f"PostHog returned {type(payload).__name__} where {what} object was expected.")
    raw_id = payload.get("id")
    if isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit():
        raw_id = int(raw_id)
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise PostHogPayloadError(f"PostHog returned an object without a numeric id where {what} was expected.")
    return payload, raw_id


def link(base_url: str, project_id: int | None, path: str) -> str:
    if not base_url:
        return ""
    base = base_url.rstrip("/")
    # Without a project PostHog's /insights/<short_id> and /dashboard/<id> redirect to the current project.
    return f"{base}/project/{project_id}/{path}" if project_id is not None else f"{base}/{path}"


def date_caption(spec: specs.Spec, result: object, override: tuple[object, object] | None) -> str:
    """The period the query used, in words: the override it was asked for with, its own range, else PostHog's
    default for its type. Retention covers its intervals (12 weekly cohorts: "Last 12 weeks")."""
    if spec.insight_type in specs.NO_DATE_RANGE:
        return ""
    if override is not None:
        return describe_date_range(*override)
    if spec.insight_type == "RETENTION" and not text(spec.date_from):
        count = spec.total_intervals or (len(result) if isinstance(result, list) and result else 8)
        unit = spec.retention_period.lower()
        words = f"{count} {unit}" if count == 1 else f"{count} {unit}s"
        end = text(spec.date_to)
        return f"Last {words}" if end is None else f"{words} to {describe_date_range(end, end)}"
    return describe_date_range(spec.date_from, spec.date_to, specs.DEFAULT_DATE_FROM.get(spec.insight_type, "-7d"))


def currency_code(value: object) -> str | None:
    """A project's base currency as PostHog stores it (ISO 4217, "EUR"), or None."""
    code = text(value)
    return code.strip().upper() if code and len(code.strip()) == 3 and code.strip().isalpha() else None


def shows_currency(content: Insight | Dashboard) -> bool:
    """Whether `content` shows a value in the project's currency (aggregationAxisFormat currency, a web overview's
    revenue), so that the project's base currency is worth asking PostHog for."""
    insights = [t.insight for t in content.tiles if t.insight] if isinstance(content, Dashboard) else [content]
    return any(
        i.formatting.axis_format is AxisFormat.CURRENCY or any(item.kind == "currency" for item in i.overview)
        for i in insights
    )


def normalize_insight(
    payload: object,
    *,
    base_url: str = "",
    project_id: int | None = None,
    date_override: tuple[object, object] | None = None,
    base_currency: str | None = None,
    on_dashboard: bool = False,
) -> Insight:
    """One insight payload (GET /api/projects/{pid}/insights/{id}/) -> `Insight`. `date_override`: the
    (date_from, date_to) it was asked for with (`filters_override`), which its date range then says.
    `base_currency`: the project's (its `base_currency`), in which PostHog shows currency values.
    `on_dashboard`: drawn as a dashboard tile, where PostHog shows some insights differently (retention)."""
    data, insight_id = identity(payload, "an insight")
    short_id = data.get("short_id") if isinstance(data.get("short_id"), str) else ""
    name = text(data.get("name")) or text(data.get("derived_name")) or UNTITLED
    insight = Insight(
        id=insight_id,
        short_id=short_id,
        name=name.strip(),
        kind=ChartKind.UNSUPPORTED,
        description=data.get("description") if isinstance(data.get("description"), str) else "",
        last_refresh=text(data.get("last_refresh")),
        url=link(base_url, project_id, f"insights/{short_id}") if short_id else "",
    )

    query, filters = data.get("query"), data.get("filters")
    if isinstance(query, dict) and query.get("kind"):
        spec = specs.from_query(query)
    elif isinstance(filters, dict) and filters:
        spec = specs.from_filters(filters)
    else:
        insight.unsupported_reason = "This insight has no chart definition (neither a query nor filters)."
        return insight
    if spec.unsupported:
        insight.unsupported_reason = spec.unsupported
        return insight
    spec.on_dashboard = on_dashboard

    insight.interval = spec.interval
    insight.time_zone = text(data.get("timezone"))
    result = data["result"] if "result" in data else data.get("results")
    insight.date_range = date_caption(spec, result, date_override)
    if result is None:
        insight.unsupported_reason = (
            "PostHog has not calculated this insight yet. Open it in PostHog to refresh it, then try again."
        )
        return insight

    try:
        READERS[spec.insight_type](insight, data, result, spec)
    except Shape as exc:
        return Insight(
            id=insight.id,
            short_id=insight.short_id,
            name=insight.name,
            kind=ChartKind.UNSUPPORTED,
            description=insight.description,
            date_range=insight.date_range,
            interval=insight.interval,
            last_refresh=insight.last_refresh,
            url=insight.url,
            unsupported_reason=(
                f"PostHog returned results for this {specs.TYPE_WORDS[spec.insight_type]} insight in a shape we "
                f"cannot read ({exc})."
            ),
        )
    if code := currency_code(base_currency):
        insight.formatting.currency = code
    return insight
