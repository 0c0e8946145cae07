"""Tables to files, streamed: a CSV (a zip of CSVs for several tables) or an Excel workbook.

Rows are written as they arrive and never collected, so a million-row export keeps a flat, small memory.
Every writer stops at `max_rows` data rows counted over all tables; when the source had more, the file says so
in a last row ("Stopped at N rows (EXPORT_MAX_ROWS); the source has more.") and `Written.truncated` is True.

Formula injection: a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some read a leading tab
or carriage return the same way) as a formula, so user data such as an event property `=HYPERLINK(...)` could
run in the reader's spreadsheet. `neutralize` puts a single quote before such text, as PostHog does. Numbers are
never touched, and text that is only a signed number ("-12.5", "+33") is left as it is: a spreadsheet reads it
as that number, not as a formula, and quoting it would turn negative values (and phone numbers) into text.
The same rule applies to both formats, so a CSV and a workbook of the same table hold the same text.

The workbook is written by a small SpreadsheetML writer of our own (inline strings, a bold frozen header, real
dates and numbers): it streams straight into the zip and is several times faster than openpyxl's write-only
mode or XlsxWriter's constant-memory mode, which spend most of their time in per-cell bookkeeping.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import quoteattr

from .tables import Table

CSV_TYPE = "text/csv; charset=utf-8"
ZIP_TYPE = "application/zip"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_TRIGGERS = frozenset("=+-@\t\r")
_SIGNED_NUMBER = re.compile(r"[+-](?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_YIELD_EVERY = 4096  # rows between two chances for the event loop to run something else


def neutralize(value: Any) -> Any:
    """A cell value that no spreadsheet will run as a formula: text starting with =, +, -, @, a tab or a
    carriage return gets a leading single quote, unless it is just a signed number. Everything else unchanged."""
    if type(value) is str and value and value[0] in _TRIGGERS and not _SIGNED_NUMBER.fullmatch(value):
        return "'" + value
    return value


def cap_note(max_rows: int) -> str:
    return f"Stopped at {max_rows:,} rows (EXPORT_MAX_ROWS); the source has more."


@dataclass
class Written:
    """What a writer made. `rows`: data rows written over all tables (no headers or notes)."""

    rows: int
    truncated: bool
    size_bytes: int
    content_type: str
    extension: str


# --- the row pump shared by every format ------------------------------------------------------------------


class _Sink(Protocol):
    def begin(self, table: Table, index: int) -> None: ...

    def row(self, row: Sequence[Any]) -> None: ...

    def end(self, table: Table, rows: int, notes: list[str]) -> None: ...


def _as_list(tables: Table | Sequence[Table]) -> list[Table]:
    found = [tables] if isinstance(tables, Table) else list(tables)
    if not found:
        raise ValueError("There is no table to write.")
    return found


async def _close(rows: Any) -> None:
    """Let a source stopped early release what it holds (an open connection to PostHog, say)."""
    if hasattr(rows, "aclose"):
        await rows.aclose()
    elif hasattr(rows, "close") and hasattr(rows, "__next__"):
        rows.close()


async def _pump(tables: list[Table], sink: _Sink, max_rows: int) -> tuple[int, bool, list[tuple[int, list[str]]]]:
    """Feed every table's rows to `sink`, `max_rows` at most over all of them. One row past the cap is read to
    tell a source that has more from one that ended exactly there. Returns (rows, truncated, per table
    (rows, notes))."""
    if max_rows < 0:
        raise ValueError("max_rows must be at least 0")
    total, truncated, done = 0, False, []
    for index, table in enumerate(tables):
        sink.begin(table, index)
        write, rows, count, stopped = sink.row, table.rows, 0, False
        try:
            if hasattr(rows, "__aiter__"):
                async for row in rows:  # type: ignore[union-attr]
                    if total >= max_rows:
                        stopped = True
                        break
                    write(row)
                    total += 1
                    count += 1
                    if not count % _YIELD_EVERY:
                        await asyncio.sleep(0)
            else:
                for row in rows:  # type: ignore[union-attr]
                    if total >= max_rows:
                        stopped = True
                        break
                    write(row)
                    total += 1
                    count += 1
                    if not count % _YIELD_EVERY:
                        await asyncio.sleep(0)
        finally:
            await _close(rows)
        notes = [table.note] if table.note else []
        if stopped:
            truncated = True
            notes.append(cap_note(max_rows))
        sink.end(table, count, notes)
        done.append((count, notes))
    return total, truncated, done


# --- names -----------------------------------------------------------------------------------------------


def _deduplicate(name: str, taken: set[str], limit: int) -> str:
    candidate, n = name[:limit], 2
    while candidate.casefold() in taken:
        suffix = f" ({n})"
        candidate, n = name[: limit - len(suffix)].rstrip() + suffix, n + 1
    taken.add(candidate.casefold())
    return candidate


_FILE_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


def _file_name(title: str, taken: set[str]) -> str:
    """A CSV's name in the zip: the title without characters a file system refuses, unique, at most 100."""
    base = _FILE_UNSAFE.sub("_", title)[:100].strip(" ._") or "table"
    if base.split(".")[0].casefold() in _WINDOWS_RESERVED:
        base = f"_{base}"
    return _deduplicate(base, taken, 100) + ".csv"


_SHEET_UNSAFE = re.compile(r"[\x00-\x1f\x7f\[\]:*?/\\]+")


def _sheet_name(title: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, no quote at either end, unique ignoring case,
    and not 'History' (Excel keeps that name)."""
    base = _SHEET_UNSAFE.sub(" ", title).strip().strip("'").strip()[:31].rstrip().rstrip("'").rstrip() or "Sheet"
    if base.casefold() == "history":
        base = "History (data)"
    return _deduplicate(base, taken, 31)


def _entry(name: str) -> zipfile.ZipInfo:
    """A deflated zip entry stamped now and readable by all once unpacked (zipfile's defaults: 1980, private)."""
    info = zipfile.ZipInfo(name, datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


# --- CSV ---------------------------------------------------------------------------------------------------


def _csv_other(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, list | tuple | dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return neutralize(text)


def _csv_row(row: Sequence[Any]) -> list[Any]:
    out = []
    for value in row:
        kind = type(value)
        if kind is str:
            if value and value[0] in _TRIGGERS:
                value = neutralize(value)
        elif kind is not int and kind is not float and value is not None:
            value = _csv_other(value)
        out.append(value)
    return out


class _CsvSink:
    """One CSV file, or one CSV per table inside a zip."""

    def __init__(self, path: Path, *, zipped: bool, bom: bool) -> None:
        self.encoding = "utf-8-sig" if bom else "utf-8"
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) if zipped else None
        self.path = path
        self.names: set[str] = set()
        self.stream: io.TextIOWrapper | None = None
        self.writer: Any = None

    def begin(self, table: Table, index: int) -> None:
        if self.zip is not None:
            raw = self.zip.open(_entry(_file_name(table.title, self.names)), "w", force_zip64=True)
            self.stream = io.TextIOWrapper(raw, encoding=self.encoding, errors="replace", newline="",
                                           write_through=False)
        else:
            self.stream = open(self.path, "w", encoding=self.encoding, errors="replace", newline="",  # noqa: SIM115
                               buffering=1 << 20)
        self.writer = csv.writer(self.stream)
        if table.columns:
            self.writer.writerow(_csv_row(table.columns))

    def row(self, row: Sequence[Any]) -> None:
        self.writer.writerow(_csv_row(row))

    def end(self, table: Table, rows: int, notes: list[str]) -> None:
        for note in notes:
            self.writer.writerow([neutralize(note)])
        self.close_table()

    def close_table(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def close(self) -> None:
        self.close_table()
        if self.zip is not None:
            self.zip.close()


async def write_csv(tables: Table | Sequence[Table], path: str | Path, *, max_rows: int, bom: bool = False) -> Written:
    """One table: a UTF-8 CSV (with a byte-order mark when `bom`, which Excel needs to read UTF-8). Several
    tables: a zip of one CSV per table, named after the tables' titles."""
    found, path = _as_list(tables), Path(path)
    zipped = len(found) > 1
    sink = _CsvSink(path, zipped=zipped, bom=bom)
    try:
        rows, truncated, _ = await _pump(found, sink, max_rows)
    finally:
        sink.close()
    if zipped:
        return Written(rows, truncated, path.stat().st_size, ZIP_TYPE, "zip")
    return Written(rows, truncated, path.stat().st_size, CSV_TYPE, "csv")


# --- XLSX --------------------------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet; a longer table goes on in another sheet
XLSX_MAX_COLUMNS = 16_384
XLSX_MAX_TEXT = 32_767  # characters of one cell
_SHEET_ROWS = XLSX_MAX_ROWS - 3  # room for the header and two notes

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_S_HEADER, _S_DATE, _S_DATETIME, _S_NOTE = 1, 2, 3, 4
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="3">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><i/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

# Characters XML cannot carry as they are, and text that Excel would read as one of its _xHHHH_ escapes.
_XML_SPECIAL = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_XML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SPACE = frozenset(" \t\n\r")
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (as its 1900 date system counts from March 1900 on)
_FIRST_SERIAL_DATE = date(1900, 3, 1)


def _xml_escape_match(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in _XML_ENTITIES:
        return _XML_ENTITIES[text]
    if len(text) > 1:
        return "_x005F" + text  # a literal "_x0041_" stays literal
    if "\ud800" <= text <= "\udfff" or text in "\ufffe\uffff":
        return "\ufffd"
    return f"_x{ord(text):04X}_"


def _column_letters(count: int) -> list[str]:
    letters = []
    for i in range(count):
        name, n = "", i + 1
        while n:
            n, rem = divmod(n - 1, 26)
            name = chr(65 + rem) + name
        letters.append(name)
    return letters


def _text_cell(ref: str, text: str, style: int = 0) -> str:
    if len(text) > XLSX_MAX_TEXT:
        text = text[:XLSX_MAX_TEXT]
    if _XML_SPECIAL.search(text) is not None:
        text = _XML_SPECIAL.sub(_xml_escape_match, text)
    s = f' s="{style}"' if style else ""
    if text[0] in _SPACE or text[-1] in _SPACE:
        return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{text}</t></is></c>'


def _other_cell(ref: str, value: Any) -> str:
    """Cells other than text, ints and floats (which the row loop writes itself)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if value.date() < _FIRST_SERIAL_DATE:
            return _text_cell(ref, value.isoformat(sep=" "))
        delta = value - _EPOCH
        serial = delta.days + (delta.seconds + delta.microseconds / 1_000_000) / 86_400
        return f'<c r="{ref}" s="{_S_DATETIME}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        if value < _FIRST_SERIAL_DATE:
            return _text_cell(ref, value.isoformat())
        return f'<c r="{ref}" s="{_S_DATE}"><v>{(value - _EPOCH.date()).days}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):  # an int subclass
        return _number_cell(ref, int(value))
    if isinstance(value, float):
        return _number_cell(ref, float(value))
    if isinstance(value, Decimal):
        return f'<c r="{ref}"><v>{value}</v></c>' if value.is_finite() else _text_cell(ref, str(value))
    if isinstance(value, time):
        return _text_cell(ref, value.isoformat())
    if isinstance(value, list | tuple | dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    text = neutralize(text)
    return _text_cell(ref, text) if text else ""


def _number_cell(ref: str, value: int | float) -> str:
    """Excel keeps 15 significant digits: larger integers (ids, say) are written as text to stay exact; NaN and
    infinities, which a workbook cannot hold, as the text a CSV has."""
    if type(value) is int:
        if -(10**15) < value < 10**15:
            return f'<c r="{ref}"><v>{value}</v></c>'
        return _text_cell(ref, str(value))
    if math.isfinite(value):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return _text_cell(ref, str(value))


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return min(len(f"{value:.6g}"), 15)
    text = value if isinstance(value, str) else str(value)
    return len(text.partition("\n")[0])


class _Sheet:
    """One worksheet being streamed into the workbook's zip."""

    SAMPLE = 100  # rows looked at to size the columns before the first row is written

    def __init__(self, book: _Book, name: str, columns: list[str], selected: bool) -> None:
        self.book, self.name, self.selected = book, name, selected
        self.columns = columns[:XLSX_MAX_COLUMNS]
        self.part = book.new_part()
        self.stream = book.zip.open(_entry(f"xl/worksheets/{self.part}"), "w", force_zip64=True)
        self.letters = _column_letters(max(len(self.columns), 1))
        self.next_row = 1
        self.data_rows = 0
        self.sample: list[Sequence[Any]] | None = []
        self.buffer: list[str] = []

    # writing -------------------------------------------------------------------------------------------------

    def _start(self) -> None:
        """The sheet's head: frozen header pane and column widths (from the header and the sampled rows)."""
        sample, self.sample = self.sample or [], None
        widths = [len(c) + 2 for c in self.columns]
        for row in sample:
            for i, value in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], _width(value) + 1)
        selected = ' tabSelected="1"' if self.selected else ""
        head = [
            f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">',
            f'<sheetViews><sheetView{selected} workbookViewId="0">',
        ]
        if self.columns:
            head.append('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>')
        head.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
        if widths:
            head.append("<cols>")
            head += [f'<col min="{i}" max="{i}" width="{min(max(w, 8), 60)}" customWidth="1"/>'
                     for i, w in enumerate(widths, 1)]
            head.append("</cols>")
        head.append("<sheetData>")
        self.buffer.append("".join(head))
        if self.columns:
            self._row_xml(self.columns, _S_HEADER)
        for row in sample:
            self._row_xml(row)

    def _row_xml(self, row: Sequence[Any], style: int = 0) -> None:
        r = self.next_row
        self.next_row += 1
        if len(row) > len(self.letters):
            self.letters = _column_letters(min(len(row), XLSX_MAX_COLUMNS))
            row = row[:XLSX_MAX_COLUMNS]
        letters = self.letters
        parts = [f'<row r="{r}">']
        for i, value in enumerate(row):
            kind = type(value)
            if kind is str:
                if not value:
                    continue
                if value[0] in _TRIGGERS:
                    value = neutralize(value)
                if (style or len(value) > XLSX_MAX_TEXT or value[0] in _SPACE or value[-1] in _SPACE
                        or _XML_SPECIAL.search(value) is not None):
                    parts.append(_text_cell(f"{letters[i]}{r}", value, style))
                else:  # the common case, spelled out: most cells of a big export are plain text
                    parts.append(f'<c r="{letters[i]}{r}" t="inlineStr"><is><t>{value}</t></is></c>')
            elif kind is int:
                if -(10**15) < value < 10**15:
                    parts.append(f'<c r="{letters[i]}{r}"><v>{value}</v></c>')
                else:
                    parts.append(_number_cell(f"{letters[i]}{r}", value))
            elif kind is float:
                parts.append(_number_cell(f"{letters[i]}{r}", value))
            elif value is not None:
                parts.append(_other_cell(f"{letters[i]}{r}", value))
        parts.append("</row>")
        self.buffer.append("".join(parts))
        if len(self.buffer) >= 512:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.stream.write("".join(self.buffer).encode("utf-8"))
            self.buffer.clear()

    def row(self, row: Sequence[Any]) -> None:
        self.data_rows += 1
        if self.sample is not None:
            self.sample.append(list(row))  # a copy: some sources hand out one list, refilled for each row
            if len(self.sample) >= self.SAMPLE:
                self._start()
            return
        self._row_xml(row)

    def notes(self, notes: list[str]) -> None:
        if self.sample is not None:
            self._start()
        for note in notes:
            self.buffer.append(f'<row r="{self.next_row}">{_text_cell(f"A{self.next_row}", note, _S_NOTE)}</row>')
            self.next_row += 1

    def close(self) -> None:
        if self.sample is not None:
            self._start()
        self.buffer.append("</sheetData></worksheet>")
        self.flush()
        self.stream.close()


class _Book:
    """The workbook's zip: worksheets streamed in as they are written, the parts that list them at the end."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.parts = 0
        self.sheets: list[tuple[str, str]] = []  # (name, part) in tab order

    def new_part(self) -> str:
        self.parts += 1
        return f"sheet{self.parts}.xml"

    def add(self, name: str, part: str, *, first: bool = False) -> None:
        if first:
            self.sheets.insert(0, (name, part))
        else:
            self.sheets.append((name, part))

    def _put(self, name: str, text: str) -> None:
        self.zip.writestr(_entry(name), text.encode("utf-8"))

    def close(self) -> None:
        sheets = "".join(f"<sheet name={quoteattr(name)} sheetId=\"{i}\" r:id=\"rId{i}\"/>"
                         for i, (name, _) in enumerate(self.sheets, 1))
        self._put("xl/workbook.xml",
                  f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
                  f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/{part}"/>'
                       for i, (_, part) in enumerate(self.sheets, 1))
        styles = len(self.sheets) + 1
        self._put("xl/_rels/workbook.xml.rels",
                  f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{rels}'
                  f'<Relationship Id="rId{styles}" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>')
        self._put("xl/styles.xml", _STYLES)
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        overrides = "".join(f'<Override PartName="/xl/worksheets/{part}" ContentType="{sheet_type}"/>'
                            for _, part in self.sheets)
        self._put("[Content_Types].xml",
                  f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  '<Default Extension="xml" ContentType="application/xml"/>'
                  '<Override PartName="/xl/workbook.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                  '<Override PartName="/xl/styles.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                  f"{overrides}</Types>")
        self._put("_rels/.rels",
                  f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
                  f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
                  "</Relationships>")
        self.zip.close()

    def abort(self) -> None:
        self.zip.close()


class _XlsxSink:
    """One sheet per table (going on in "Title (2)" past a worksheet's rows), an Index first when several."""

    def __init__(self, book: _Book, *, indexed: bool) -> None:
        self.book, self.indexed = book, indexed
        self.names: set[str] = {"index"} if indexed else set()
        self.sheet: _Sheet | None = None
        self.table: Table | None = None
        self.first_names: list[str] = []
        self.part_of_table = 1

    def _open(self, name: str) -> None:
        assert self.table is not None
        selected = not self.indexed and not self.book.sheets
        self.sheet = _Sheet(self.book, name, list(self.table.columns), selected)
        self.book.add(name, self.sheet.part)

    def begin(self, table: Table, index: int) -> None:
        self.table, self.part_of_table = table, 1
        name = _sheet_name(table.title, self.names)
        self.first_names.append(name)
        self._open(name)

    def row(self, row: Sequence[Any]) -> None:
        sheet = self.sheet
        assert sheet is not None
        if sheet.data_rows >= _SHEET_ROWS:
            sheet.close()
            self.part_of_table += 1
            self._open(_sheet_name(f"{self.first_names[-1]} ({self.part_of_table})", self.names))
            sheet = self.sheet
            assert sheet is not None
        sheet.row(row)

    def end(self, table: Table, rows: int, notes: list[str]) -> None:
        assert self.sheet is not None
        self.sheet.notes(notes)
        self.sheet.close()
        self.sheet = None

    def write_index(self, tables: list[Table], done: list[tuple[int, list[str]]]) -> None:
        index = _Sheet(self.book, "Index", ["Sheet", "Title", "Rows", "Note"], selected=True)
        self.book.add("Index", index.part, first=True)
        for name, table, (rows, notes) in zip(self.first_names, tables, done, strict=True):
            index.row([name, table.title, rows, " ".join(notes)])
        index.close()


async def write_xlsx(tables: Table | Sequence[Table], path: str | Path, *, max_rows: int) -> Written:
    """An Excel workbook: one sheet per table (bold, frozen header; dates and numbers as such), and an "Index"
    sheet first when there are several tables, listing each one's sheet, title, rows and note."""
    found, path = _as_list(tables), Path(path)
    indexed = len(found) > 1
    book = _Book(path)
    sink = _XlsxSink(book, indexed=indexed)
    try:
        rows, truncated, done = await _pump(found, sink, max_rows)
        if indexed:
            sink.write_index(found, done)
    except BaseException:
        if sink.sheet is not None:
            sink.sheet.stream.close()
        book.abort()
        raise
    book.close()
    return Written(rows, truncated, path.stat().st_size, XLSX_TYPE, "xlsx")


Writer = Callable[..., Awaitable[Written]]
WRITERS: dict[str, Writer] = {"csv": write_csv, "xlsx": write_xlsx}
