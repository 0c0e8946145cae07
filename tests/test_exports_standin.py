"""Every content kind exported from a stand-in PostHog over real HTTP, to CSV and to XLSX: the workbook read back
with openpyxl is the CSV, cell by cell, and both hold the stand-in's data.

Real parts: the database under test, the stand-in PostHog server on 127.0.0.1 (insights, a dashboard, and the
query API's events, persons, cohort members and groups), the exporter and its writers, local storage in a
temporary folder. No Chromium: PDF is covered from the demo project elsewhere.
"""

from __future__ import annotations

import copy
import csv
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn
from tests.test_exports import as_text, csv_text_rows, export_in_process

API_KEY = "phx_standin_exports"


def _insight(name: str, insight_id: int) -> dict:
    payload = copy.deepcopy(load_fixture(name))
    payload["id"] = insight_id
    return payload


def _seed(posthog: PostHogStandIn) -> None:
    """Small, deterministic content: three insights, a dashboard of them, events, persons, a cohort, groups."""
    trends, funnel, retention = (_insight("trendsLine", 51), _insight("funnelTopToBottom", 52),
                                 _insight("retention", 53))
    for payload in (trends, funnel, retention):
        posthog.add_insight(payload)
    posthog.add_dashboard({"id": 42, "name": "Overview", "tiles": [
        {"id": 1, "text": {"body": "Weekly numbers"}, "insight": None,
         "layouts": {"sm": {"x": 0, "y": 0, "w": 12, "h": 2}}},
        {"id": 2, "insight": trends, "layouts": {"sm": {"x": 0, "y": 2, "w": 6, "h": 5}}},
        {"id": 3, "insight": funnel, "layouts": {"sm": {"x": 6, "y": 2, "w": 6, "h": 5}}},
        {"id": 4, "insight": retention, "layouts": {"sm": {"x": 0, "y": 7, "w": 12, "h": 5}}},
    ]})
    posthog.event_rows = 23
    names = ["ada", "bob", "cyd", "dee", "eve", "fay", "gus"]
    for i, name in enumerate(names):
        posthog.add_person(
            f"0190a3b2-0000-7000-8000-{i:012d}", f"2024-04-0{i + 1}T09:30:00Z", [f"{name}-device", f"{name}@acme.com"],
            {"email": f"{name}@acme.com", "name": name.capitalize(), "plan": ("free", "pro")[i % 2]},
        )
    posthog.add_cohort(5, [f"0190a3b2-0000-7000-8000-{i:012d}" for i in (1, 3, 5)])  # bob, dee, fay
    for i, key in enumerate(["acme", "globex", "initech", "umbrella"]):
        posthog.add_group(i % 2, key, f"2024-03-1{i}T12:00:00Z", {"name": key.capitalize(), "seats": 10 * (i + 1)})


@pytest.fixture
async def standin(db):
    """The stand-in PostHog, seeded, and a PostHog connection of ours pointing at it: (server, connection id)."""
    from core.models import PostHogConnection

    posthog = PostHogStandIn(api_key=API_KEY, project_id=2)
    _seed(posthog)
    await posthog.start()
    try:
        async with db.transaction() as session:
            connection = PostHogConnection(name="Acme", host=posthog.url, project_id=2, api_key=API_KEY)
            session.add(connection)
            await session.flush()
        yield posthog, connection.id
    finally:
        await posthog.stop()


def _csv_tables(path: Path) -> list[list[list[str]]]:
    """The tables of a CSV export: one, or one per file of a zip (a dashboard), in order."""
    if not zipfile.is_zipfile(path):
        return [csv_text_rows(path)]
    with zipfile.ZipFile(path) as archive:
        return [[[as_text(v) for v in row]
                 for row in csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8-sig", newline=""))]
                for name in archive.namelist()]


def _cell_text(cell) -> str:
    """A workbook cell as text. A spreadsheet has no date type: openpyxl reads every date-formatted cell as a
    date-time, so a cell whose format shows no time of day is the date the CSV has."""
    value = cell.value
    if isinstance(value, datetime) and "h" not in (cell.number_format or "").lower():
        value = value.date()
    return as_text(value)


def _xlsx_tables(path: Path) -> tuple[list[str], list[list[list[str]]]]:
    """The sheet names and each sheet's cells as text, read back with openpyxl. Empty cells are not written, so
    a row ending in empty cells is read shorter: it is padded to the sheet's width, as the CSV has it."""
    book = load_workbook(path, read_only=True)
    try:
        tables = []
        for sheet in book.worksheets:
            rows = [[_cell_text(c) for c in row] for row in sheet.iter_rows()]
            width = max((len(row) for row in rows), default=0)
            tables.append([row + [""] * (width - len(row)) for row in rows])
        return book.sheetnames, tables
    finally:
        book.close()


# kind, ref, what must be in the rows (cell texts), what must not be
CASES = [
    pytest.param("insight", "jEAIVJnN", {"Date", "Pageview", "2022-03-07", "15625"}, set(), id="insight-trends"),
    pytest.param("insight", "52", {"Step", "Count", "Conversion from first step (%)"}, set(), id="insight-funnel"),
    pytest.param("dashboard", "42", {"Pageview", "Step", "Cohort"}, set(), id="dashboard"),
    pytest.param("events", "", {"$pageview", "user0@example.com", "2024-05-01 00:00:00"}, set(), id="events"),
    pytest.param("persons", "", {"0190a3b2-0000-7000-8000-000000000000", "2024-04-01 09:30:00"}, set(), id="persons"),
    pytest.param("cohort", "5", {"0190a3b2-0000-7000-8000-000000000001"},
                 {"0190a3b2-0000-7000-8000-000000000000"}, id="cohort"),
    pytest.param("groups", "1", {"globex", "umbrella", "2024-03-11 12:00:00"}, {"acme", "initech"}, id="groups"),
]


@pytest.mark.parametrize(("kind", "ref", "present", "absent"), CASES)
async def test_every_content_kind_from_a_posthog_over_http_exports_to_csv_and_the_same_xlsx(
    db, tmp_path, standin, kind, ref, present, absent
):
    from core.settings import Settings
    from exports import ExportRequest

    posthog, connection_id = standin
    settings = Settings(database_url=db.url, export_dir=tmp_path / "store", export_page_size=3,
                        posthog_allow_private_hosts=True)
    done = {}
    for fmt in ("csv", "xlsx"):
        request = ExportRequest(kind=kind, ref=ref, format=fmt,
                                date_from="-30d" if kind == "events" else None)
        asset = await export_in_process(db, settings, request, connection_id, out=tmp_path / f"out.{fmt}")
        assert asset.status == "ready", asset.error
        done[fmt] = asset
    assert done["csv"].row_count == done["xlsx"].row_count > 0

    from_csv = _csv_tables(tmp_path / "out.csv")
    names, from_xlsx = _xlsx_tables(tmp_path / "out.xlsx")
    if kind == "dashboard":  # an index sheet, then one sheet per insight tile in layout order (no text card)
        assert names[0] == "Index" and len(names) == 4 and len(from_csv) == 3
        index, from_xlsx = from_xlsx[0], from_xlsx[1:]
        assert [row[2] for row in index[1:]] == [str(len(table) - 1) for table in from_csv]
    assert from_csv == from_xlsx, (from_csv, from_xlsx)  # cell by cell
    assert all(len(table) > 1 for table in from_csv)  # a header and rows in every table
    assert sum(len(table) - 1 for table in from_csv) == done["csv"].row_count

    cells = {cell for table in from_csv for row in table for cell in row}
    assert present <= cells, present - cells
    assert not absent & cells
    if kind in ("persons", "cohort"):
        members = {"persons": "ada bob cyd dee eve fay gus", "cohort": "bob dee fay"}[kind].split()
        assert from_csv[0][0] == ["id", "created_at", "distinct_ids", "properties"]
        assert [row[2] for row in from_csv[0][1:]] == [f'["{n}-device", "{n}@acme.com"]' for n in members]
        assert all(f'"email": "{n}@acme.com"' in row[3] for n, row in zip(members, from_csv[0][1:], strict=True))
    if kind in ("events", "persons", "cohort", "groups"):  # read from the query API, a page of 3 at a time
        queries = [q for q in posthog.queries if q.startswith("SELECT")]
        assert queries and all(" LIMIT 4 OFFSET " in q for q in queries)
        source = {"events": "FROM events", "persons": "FROM persons", "cohort": "IN COHORT 5",
                  "groups": "index = 1"}[kind]
        assert all(source in q for q in queries)
    else:
        assert posthog.requests and not posthog.queries
