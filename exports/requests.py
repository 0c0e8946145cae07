"""What an export is asked to contain, as every door (Slack, the command line, later the API) asks it.

`ExportRequest.validate` holds the rules once: which kinds exist, which formats each takes, what a reference
must look like. Stored as JSON on the export's row, so that whichever worker runs it reads the same request.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from core.date_ranges import DateRange, DateRangeError, parse_date_range
from posthog_api.data import DataQuery, InvalidDataQuery

KINDS = ("insight", "dashboard", "events", "persons", "cohort", "groups")
FORMATS = ("csv", "xlsx", "pdf")
DATA_KINDS = ("events", "persons", "cohort", "groups")  # read page by page from PostHog's query API (DataQuery)


class ExportError(ValueError):
    """An export that cannot be made as asked; `str()` is the message for the person who asked."""


@dataclass(frozen=True)
class ExportRequest:
    kind: str
    ref: str = ""  # insight id or short id, dashboard id, cohort id, group type index
    format: str = "csv"
    date_from: str | None = None  # PostHog's relative strings (core.date_ranges); events only
    date_to: str | None = None
    events: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    where: str | None = None
    bom: bool = False  # CSV for Excel: a byte-order mark first
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def validate(self) -> ExportRequest:
        if self.kind not in KINDS:
            raise ExportError(f"I can export {', '.join(KINDS)}; not “{self.kind[:30]}”.")
        if self.format not in FORMATS:
            raise ExportError(f"Exports are CSV, XLSX or PDF; not “{self.format[:20]}”.")
        if self.format == "pdf" and self.kind not in ("insight", "dashboard"):
            raise ExportError(f"A PDF shows an insight or a dashboard; export {self.kind} as csv or xlsx.")
        if self.kind in ("insight", "dashboard", "cohort") and not self.ref:
            example = {"insight": "abc123XY", "dashboard": "42", "cohort": "5"}[self.kind]
            raise ExportError(f"Which {self.kind}? Give its id, e.g. `export {self.kind} {example} as csv`.")
        if self.kind in ("dashboard", "cohort") and not (self.ref.isascii() and self.ref.isdigit()):
            raise ExportError(f"A {self.kind} id is a number, not “{self.ref[:30]}”.")
        if self.kind == "groups" and not (self.ref.isascii() and self.ref.isdigit() and int(self.ref) <= 4):
            raise ExportError("Which group type? Give its index, 0 to 4, e.g. `export groups 0 as csv`.")
        if self.kind not in DATA_KINDS and (self.date_from or self.events or self.columns or self.where):
            raise ExportError(f"Date ranges, events, columns and filters are for data exports, not {self.kind}s: "
                              f"an {self.kind} is exported as PostHog computed it.")
        if self.is_data:
            # Columns, events and the filter follow posthog_api's rules for a query, written once there.
            try:
                self.data_query().validate()
            except InvalidDataQuery as exc:
                raise ExportError(str(exc)) from None
        return self

    def data_query(self) -> DataQuery:
        """What to read from PostHog for a data export."""
        return DataQuery(
            kind=self.kind, date_from=self.date_from or ("-7d" if self.kind == "events" else None),
            date_to=self.date_to, events=self.events, columns=self.columns, where=self.where,
            cohort_id=int(self.ref) if self.kind == "cohort" else None,
            group_type_index=int(self.ref) if self.kind == "groups" else None,
        )

    @property
    def is_data(self) -> bool:
        return self.kind in DATA_KINDS

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRequest:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "extra"}
        for name in ("events", "columns"):
            known[name] = tuple(known.get(name) or ())
        return cls(**known)

    def filename(self, title: str, extension: str) -> str:
        base = {"insight": f"insight-{self.ref}", "dashboard": f"dashboard-{self.ref}", "cohort": f"cohort-{self.ref}",
                "groups": f"groups-{self.ref}"}.get(self.kind, self.kind)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title or "").strip("-").lower()[:60]
        return f"{base}{'-' + slug if slug and self.kind in ('insight', 'dashboard') else ''}.{extension}"


def date_range(text: str | None) -> DateRange | None:
    """`--last 7d`, "last 30 days", "this month": a data export's period (None: PostHog's default week)."""
    if text is None or not text.strip():
        return None
    try:
        return parse_date_range(text)
    except DateRangeError as exc:
        raise ExportError(str(exc)) from None
