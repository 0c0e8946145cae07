"""CSV, zip and Excel writers: the same cells in every format, formula injection, caps, names, streaming."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils.escape import unescape

from core.settings import Settings
from exports import WRITERS, Table, dashboard_tables, insight_table, neutralize, write_csv, write_xlsx
from exports import writers as writers_module
from posthog_api import DemoProject, normalize_insight
from tests.test_export_tables import fixture_files

CAP_NOTE = "Stopped at {:,} rows (EXPORT_MAX_ROWS); the source has more."


# --- reading back ------------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_sheets(path: Path) -> dict[str, list[list[Any]]]:
    book = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def same_cell(text: str, value: Any) -> bool:
    """A CSV cell and the workbook's cell hold the same thing: numbers as numbers, dates as dates."""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, datetime):
        return abs(datetime.fromisoformat(text) - value) < timedelta(milliseconds=1)
    if isinstance(value, int | float):
        return math.isclose(float(text), value, rel_tol=1e-12)
    return unescape(value) == text


def assert_same(csv_rows: list[list[str]], sheet_rows: list[list[Any]]) -> None:
    assert len(csv_rows) == len(sheet_rows)
    for n, (a, b) in enumerate(zip(csv_rows, sheet_rows, strict=True), 1):
        for text, value in zip_longest(a, b, fillvalue=None):
            assert same_cell(text or "", value), (n, a, b)


async def both(tables_factory, tmp_path: Path, **kwargs) -> tuple[Any, Any, Path, Path]:
    csv_path, xlsx_path = tmp_path / "out.csv", tmp_path / "out.xlsx"
    written_csv = await write_csv(tables_factory(), csv_path, **kwargs)
    written_xlsx = await write_xlsx(tables_factory(), xlsx_path, **kwargs)
    return written_csv, written_xlsx, csv_path, xlsx_path


# --- neutralize --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("- item", "'- item"),
    ("-1+1", "'-1+1"),
    ("-12.5", "-12.5"),
    ("-3", "-3"),
    ("+33612345678", "+33612345678"),
    ("-1.5e10", "-1.5e10"),
    ("plain", "plain"),
    (" =not a formula", " =not a formula"),
    ("a=b", "a=b"),
    ("", ""),
    (-12.5, -12.5),
    (-3, -3),
    (Decimal("-1.5"), Decimal("-1.5")),
    (None, None),
])
def test_neutralize(value: Any, expected: Any) -> None:
    result = neutralize(value)
    assert result == expected and type(result) is type(expected)


async def test_formula_injection_is_neutralized_and_negative_numbers_stay_numbers(tmp_path: Path) -> None:
    columns = ["=cmd", "value", "number", "decimal", "text number"]
    rows = [
        ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", -12.5, Decimal("-1.25"), "-42"],
        ["@SUM(A1:A2)", "\t=1", -3, Decimal("7"), "-1+2"],
        ["-", "\rX", 0, Decimal("0.1"), "+33612345678"],
    ]
    written_csv, written_xlsx, csv_path, xlsx_path = await both(lambda: Table("Injection", columns, rows),
                                                                tmp_path, max_rows=100)
    lines = read_csv(csv_path.read_bytes())
    assert lines == [
        ["'=cmd", "value", "number", "decimal", "text number"],
        ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'+1+1", "-12.5", "-1.25", "-42"],
        ["'@SUM(A1:A2)", "'\t=1", "-3", "7", "'-1+2"],
        ["'-", "'\rX", "0", "0.1", "+33612345678"],
    ]
    book = openpyxl.load_workbook(xlsx_path)
    sheet = book.active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]  # no formula anywhere
    assert [sheet.cell(r, 3).value for r in (2, 3, 4)] == [-12.5, -3, 0]
    assert [sheet.cell(r, 4).value for r in (2, 3, 4)] == [-1.25, 7, 0.1]
    assert all(sheet.cell(r, c).data_type == "n" for r in (2, 3, 4) for c in (3, 4))
    assert sheet["A2"].value.startswith("'=") and sheet["E2"].value == "-42"
    assert_same(lines, [list(r) for r in sheet.iter_rows(values_only=True)])


# --- every insight, every format ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.parent.parent.name}/{p.stem}")
async def test_every_fixture_insight_as_csv_and_xlsx_holds_the_same_cells(path: Path, tmp_path: Path) -> None:
    insight = normalize_insight(json.loads(path.read_text(encoding="utf-8")))
    written_csv, written_xlsx, csv_path, xlsx_path = await both(lambda: insight_table(insight), tmp_path,
                                                                max_rows=1_000)
    table = insight_table(insight)
    expected_rows = len(list(table.rows))  # type: ignore[arg-type]
    assert (written_csv.rows, written_csv.truncated, written_csv.extension) == (expected_rows, False, "csv")
    assert written_csv.content_type.startswith("text/csv") and written_csv.size_bytes == csv_path.stat().st_size
    assert (written_xlsx.rows, written_xlsx.truncated, written_xlsx.extension) == (expected_rows, False, "xlsx")
    assert written_xlsx.size_bytes == xlsx_path.stat().st_size
    lines = read_csv(csv_path.read_bytes())
    assert lines[0] == [neutralize(c) for c in table.columns] and len(lines) == expected_rows + 1
    sheets = read_sheets(xlsx_path)
    assert list(sheets) == [insight.name[:31].rstrip()]
    assert_same(lines, next(iter(sheets.values())))


async def test_a_sheet_has_a_bold_frozen_header_and_real_dates(tmp_path: Path) -> None:
    rows = [[date(2024, 3, 1), datetime(2024, 3, 1, 12, 30, 15), datetime(2024, 3, 1, 14, 0, tzinfo=timezone(
        timedelta(hours=2))), 1.5, True]]
    written_csv, _, csv_path, xlsx_path = await both(lambda: Table("Dates", ["day", "at", "aware", "x", "ok"], rows),
                                                     tmp_path, max_rows=10)
    sheet = openpyxl.load_workbook(xlsx_path).active
    assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1])
    assert sheet["A2"].is_date and sheet["A2"].value == datetime(2024, 3, 1)
    assert sheet["B2"].is_date and sheet["B2"].value == datetime(2024, 3, 1, 12, 30, 15)
    assert sheet["C2"].value == datetime(2024, 3, 1, 12, 0)  # UTC inside
    assert read_csv(csv_path.read_bytes())[1] == ["2024-03-01", "2024-03-01 12:30:15", "2024-03-01 12:00:00", "1.5",
                                                  "true"]


async def test_text_that_xml_cannot_carry_as_it_is_survives(tmp_path: Path) -> None:
    rows = [["a<b&c>\"'", "x\x01y", "  padded ", "_x0041_", "line\r\nbreak", "日本語 🎉", 2**60, [1, {"a": "b"}]]]
    _, _, csv_path, xlsx_path = await both(lambda: Table("Text", [f"c{i}" for i in range(8)], rows), tmp_path,
                                           max_rows=10)
    lines = read_csv(csv_path.read_bytes())
    assert lines[1] == ["a<b&c>\"'", "x\x01y", "  padded ", "_x0041_", "line\r\nbreak", "日本語 🎉",
                        "1152921504606846976", '[1, {"a": "b"}]']
    sheet_rows = next(iter(read_sheets(xlsx_path).values()))
    assert sheet_rows[1][6] == "1152921504606846976"  # beyond Excel's 15 digits: kept exact as text
    assert_same(lines, sheet_rows)


async def test_a_cell_longer_than_excel_allows_is_cut_there(tmp_path: Path) -> None:
    await write_xlsx(Table("Long", ["text"], [["x" * 40_000]]), tmp_path / "long.xlsx", max_rows=10)
    assert len(openpyxl.load_workbook(tmp_path / "long.xlsx").active["A2"].value) == 32_767


async def test_an_empty_table_has_its_header_and_an_unsupported_one_its_note(tmp_path: Path) -> None:
    empty = Table("Nothing yet", ["Date", "Count"], [])
    unsupported = Table("Odd", [], [], note="PostHog funnels of this kind are not supported yet.")
    await write_csv(empty, tmp_path / "empty.csv", max_rows=10)
    assert read_csv((tmp_path / "empty.csv").read_bytes()) == [["Date", "Count"]]
    await write_csv(unsupported, tmp_path / "odd.csv", max_rows=10)
    assert read_csv((tmp_path / "odd.csv").read_bytes()) == [["PostHog funnels of this kind are not supported yet."]]
    await write_xlsx(unsupported, tmp_path / "odd.xlsx", max_rows=10)
    assert read_sheets(tmp_path / "odd.xlsx") == {"Odd": [["PostHog funnels of this kind are not supported yet."]]}


# --- dashboards: several tables ---------------------------------------------------------------------------


async def test_demo_dashboard_as_a_workbook_has_an_index_and_a_sheet_per_insight_tile(tmp_path: Path) -> None:
    dashboard = await DemoProject().get_dashboard(42)
    titles = [t.title for t in dashboard.tiles if t.insight is not None]
    written = await write_xlsx(dashboard_tables(dashboard), tmp_path / "d.xlsx", max_rows=1_000)
    sheets = read_sheets(tmp_path / "d.xlsx")
    assert list(sheets) == ["Index"] + titles
    tables = dashboard_tables(dashboard)
    counts = [len(list(t.rows)) for t in tables]  # type: ignore[arg-type]
    assert sheets["Index"] == [["Sheet", "Title", "Rows", "Note"]] + [[t, t, n, None] for t, n in zip(titles, counts,
                                                                                                        strict=True)]
    assert written.rows == sum(counts) and not written.truncated
    assert openpyxl.load_workbook(tmp_path / "d.xlsx").active.title == "Index"

    written_zip = await write_csv(dashboard_tables(dashboard), tmp_path / "d.zip", max_rows=1_000)
    assert (written_zip.extension, written_zip.content_type, written_zip.rows) == ("zip", "application/zip",
                                                                                   written.rows)
    with zipfile.ZipFile(tmp_path / "d.zip") as archive:
        assert archive.namelist() == [f"{t}.csv" for t in titles]
        for title in titles:
            assert_same(read_csv(archive.read(f"{title}.csv")), sheets[title])


async def test_names_of_sheets_and_files_are_safe_and_unique(tmp_path: Path) -> None:
    titles = ["Revenue / day: EU [v2]?", "Revenue / day: EU [v2]*", "A" * 40, "A" * 40, "history", "Index", "'quoted'",
              "CON", "../../etc/passwd", "", "B" * 30 + "'quote", "C" * 99 + " .x"]
    tables = lambda: [Table(t, ["n"], [[i]]) for i, t in enumerate(titles)]  # noqa: E731
    await write_xlsx(tables(), tmp_path / "n.xlsx", max_rows=100)
    names = list(read_sheets(tmp_path / "n.xlsx"))
    assert names[0] == "Index" and len(names) == len(titles) + 1
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        assert 0 < len(name) <= 31 and not set(name) & set("[]:*?/\\") and name[0] != "'" and name[-1] != "'"
    assert "history" not in {n.casefold() for n in names}
    await write_csv(tables(), tmp_path / "n.zip", max_rows=100)
    with zipfile.ZipFile(tmp_path / "n.zip") as archive:
        files = archive.namelist()
    assert len({f.casefold() for f in files}) == len(titles)
    for name in files:
        assert name.endswith(".csv") and "/" not in name and "\\" not in name and ":" not in name
        assert not name.startswith(".") and name.split(".")[0].casefold() != "con" and len(name) <= 104
        assert name[:-4] == name[:-4].strip(" .")


async def test_a_source_that_refills_one_list_for_every_row(tmp_path: Path) -> None:
    def refilled():
        row = [0, ""]
        for i in range(150):
            row[0], row[1] = i, f"row {i}"
            yield row

    await write_xlsx(Table("t", ["n", "text"], refilled()), tmp_path / "r.xlsx", max_rows=1_000)
    assert next(iter(read_sheets(tmp_path / "r.xlsx").values()))[1:] == [[i, f"row {i}"] for i in range(150)]


async def test_csv_for_excel_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    await write_csv(Table("t", ["é"], [["ü"]]), tmp_path / "bom.csv", max_rows=10, bom=True)
    assert (tmp_path / "bom.csv").read_bytes() == b"\xef\xbb\xbf\xc3\xa9\r\n\xc3\xbc\r\n"
    await write_csv(Table("t", ["é"], [["ü"]]), tmp_path / "plain.csv", max_rows=10)
    assert (tmp_path / "plain.csv").read_bytes() == b"\xc3\xa9\r\n\xc3\xbc\r\n"
    await write_csv([Table("a", ["é"], []), Table("b", ["é"], [])], tmp_path / "bom.zip", max_rows=10, bom=True)
    with zipfile.ZipFile(tmp_path / "bom.zip") as archive:
        assert all(archive.read(n).startswith(b"\xef\xbb\xbf") for n in archive.namelist())


# --- the row cap --------------------------------------------------------------------------------------------


def numbered(count: int):
    return ([i, f"row {i}"] for i in range(count))


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
async def test_the_cap_stops_a_longer_source_and_says_so(writer: str, tmp_path: Path) -> None:
    path = tmp_path / f"capped.{writer}"
    written = await WRITERS[writer](Table("Events", ["n", "text"], numbered(15_000)), path, max_rows=10_000)
    assert (written.rows, written.truncated) == (10_000, True)
    rows = read_csv(path.read_bytes()) if writer == "csv" else next(iter(read_sheets(path).values()))
    assert len(rows) == 1 + 10_000 + 1
    assert rows[-2][0] in (9_999, "9999") and rows[-1][0] == CAP_NOTE.format(10_000)


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
async def test_a_source_that_ends_exactly_at_the_cap_is_complete(writer: str, tmp_path: Path) -> None:
    written = await WRITERS[writer](Table("Events", ["n", "text"], numbered(500)), tmp_path / f"x.{writer}",
                                    max_rows=500)
    assert (written.rows, written.truncated) == (500, False)


async def test_the_cap_counts_over_all_tables(tmp_path: Path) -> None:
    def tables() -> list[Table]:
        return [Table("A", ["n"], [[i] for i in range(5)]), Table("B", ["n"], [[i] for i in range(5)]),
                Table("C", ["n"], []), Table("D", ["n"], [[1], [2], [3]], note="Three rows.")]

    written = await write_xlsx(tables(), tmp_path / "cap.xlsx", max_rows=7)
    assert (written.rows, written.truncated) == (7, True)
    sheets = read_sheets(tmp_path / "cap.xlsx")
    note = CAP_NOTE.format(7)
    assert sheets["Index"][1:] == [["A", "A", 5, None], ["B", "B", 2, note], ["C", "C", 0, None],
                                   ["D", "D", 0, f"Three rows. {note}"]]
    assert sheets["B"] == [["n"], [0], [1], [note]] and sheets["C"] == [["n"]]
    assert sheets["D"] == [["n"], ["Three rows."], [note]]

    written = await write_csv(tables(), tmp_path / "cap.zip", max_rows=7)
    assert (written.rows, written.truncated) == (7, True)
    with zipfile.ZipFile(tmp_path / "cap.zip") as archive:
        assert read_csv(archive.read("B.csv")) == [["n"], ["0"], ["1"], [note]]
        assert read_csv(archive.read("D.csv")) == [["n"], ["Three rows."], [note]]


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
async def test_a_source_stopped_at_the_cap_is_closed(writer: str, tmp_path: Path) -> None:
    events: list[str] = []

    async def pages():
        try:
            for i in range(1_000):
                yield [i]
        finally:
            events.append("closed")

    written = await WRITERS[writer](Table("Events", ["n"], pages()), tmp_path / f"x.{writer}", max_rows=10)
    assert written.truncated and events == ["closed"]


async def test_the_default_cap_of_a_million_rows_on_a_longer_source(tmp_path: Path) -> None:
    """The real setting on 1.5 million generated rows (the CSV path, a few seconds)."""
    max_rows = Settings().export_max_rows
    assert max_rows == 1_000_000
    written = await write_csv(Table("Events", ["n", "text"], numbered(1_500_000)), tmp_path / "big.csv",
                              max_rows=max_rows)
    assert (written.rows, written.truncated) == (1_000_000, True)
    with (tmp_path / "big.csv").open("rb") as f:
        f.seek(-200, 2)
        tail = read_csv(f.read())
    assert tail[-2:] == [["999999", "row 999999"], [CAP_NOTE.format(1_000_000)]]
    assert sum(1 for _ in (tmp_path / "big.csv").open("rb")) == 1 + 1_000_000 + 1


async def test_a_table_longer_than_a_worksheet_goes_on_in_another_sheet(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers_module, "_SHEET_ROWS", 4)  # a worksheet's 1,048,573 data rows, scaled down
    written = await write_xlsx([Table("Events", ["n"], [[i] for i in range(10)]), Table("Other", ["n"], [[1]])],
                               tmp_path / "long.xlsx", max_rows=100)
    assert written.rows == 11
    sheets = read_sheets(tmp_path / "long.xlsx")
    assert list(sheets) == ["Index", "Events", "Events (2)", "Events (3)", "Other"]
    assert sheets["Events"] == [["n"], [0], [1], [2], [3]] and sheets["Events (3)"] == [["n"], [8], [9]]
    assert sheets["Index"][1] == ["Events", "Events", 10, None]


async def test_nothing_to_write_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        await write_csv([], tmp_path / "x.csv", max_rows=10)
    with pytest.raises(ValueError):
        await write_xlsx(Table("t", ["n"], []), tmp_path / "x.xlsx", max_rows=-1)


def test_writers_registry() -> None:
    assert WRITERS["csv"] is write_csv and WRITERS["xlsx"] is write_xlsx


def test_aware_datetimes_are_written_in_utc() -> None:
    moment = datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert writers_module._csv_other(moment) == "2024-01-02 04:30:00"
    assert writers_module._csv_other(moment.astimezone(UTC)) == "2024-01-02 04:30:00"
