"""Paths results: step-to-step links, drawn as a Sankey diagram."""

from __future__ import annotations

from typing import Any

from ..content import ChartKind, Insight, PathLink
from .readers import Shape, as_list, integer, obj
from .spec import Spec


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    insight.kind = ChartKind.PATHS
    for item in as_list(result, "a list of path links"):
        raw = obj(item, "each path link to be an object")
        source, target = raw.get("source"), raw.get("target")
        if not isinstance(source, str) or not isinstance(target, str):
            raise Shape("expected path links with a source and a target")
        insight.paths.append(PathLink(source=source, target=target, value=integer(raw.get("value"))))
