"""Raw data out of PostHog, page by page: events, persons, a cohort's members, the groups of a group type.

`DataQuery` says what to read; `hogql` writes it as one HogQL query for PostHog's query API
(POST /api/projects/{id}/query/, kind HogQLQuery); `data_pages` reads it in pages of LIMIT/OFFSET from a
`PostHogClient` or natively from the bundled `DemoProject`. `posthog_api.sources.data_pages_for` is the door
that opens a stored connection and pages with the settings' page size.

The HogQL of each kind (columns are the defaults below or the ones asked for, verbatim):

    events   SELECT <columns> FROM events
             WHERE timestamp >= toDateTime('<start>Z') AND timestamp < toDateTime('<end>Z')
               [AND event IN ('a', 'b')] [AND (<where>)]
             ORDER BY timestamp ASC, uuid ASC
    persons  SELECT <columns> FROM persons
               [LEFT JOIN (SELECT person_id, groupArray(distinct_id) AS distinct_ids FROM person_distinct_ids
                           GROUP BY person_id) AS pdis ON pdis.person_id = persons.id]   -- for distinct_ids
             [WHERE created_at in the range] [AND (<where>)]
             ORDER BY persons.created_at ASC, persons.id ASC
    cohort   as persons, WHERE persons.id IN COHORT <cohort_id> ...
    groups   SELECT <columns> FROM groups WHERE index = <group_type_index> [AND created_at in the range]
               [AND (<where>)] ORDER BY created_at ASC, key ASC

each followed by `LIMIT <limit> OFFSET <offset>`. The ORDER BY ends in a unique key, so pages neither overlap
nor skip; events are read oldest first, so events arriving during an export land after the pages read.

Dates are PostHog's strings as `core.date_ranges` reads them ("-7d", "-24h", "mStart", "-1mEnd", an ISO date
or date-time), resolved in UTC when the paging starts: a day string means from that day's midnight, an end
day up to the next midnight, hours count back from that moment, and no end means up to that moment (pinned,
so that late pages see the same rows). For events the range applies to `timestamp`; for persons, cohort
members and groups to `created_at` (give `date_from=None` for all of them, whenever created).

`where` is one HogQL expression, added with AND (PostHog runs HogQL sandboxed to the key's project). It is
refused when it is not one expression: a `;`, a comment (`--`, `/*`), unbalanced brackets or quotes, a
statement keyword anywhere (INSERT, DROP, ALTER, ...) or a clause keyword outside brackets (UNION, LIMIT,
ORDER BY, SETTINGS, ...). Subqueries in brackets are the server's to judge. The demo project understands a
small subset only (see `posthog_api.demo_events`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from core.date_ranges import DateRangeError, resolve_date

from .client import PostHogClient
from .errors import PostHogError, PostHogPayloadError

if TYPE_CHECKING:
    from .demo import DemoProject

DataKind = Literal["events", "persons", "cohort", "groups"]
DATA_KINDS: tuple[str, ...] = ("events", "persons", "cohort", "groups")

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": (
        "timestamp", "event", "distinct_id", "person_id", "properties.$current_url", "properties.$browser",
        "properties.$os", "uuid",
    ),
    "persons": ("id", "created_at", "distinct_ids", "properties"),
    "cohort": ("id", "created_at", "distinct_ids", "properties"),
    "groups": ("key", "created_at", "properties"),
}

MAX_COLUMNS = 100
MAX_EVENTS = 50
MAX_WHERE_LENGTH = 2000
MAX_GROUP_TYPE_INDEX = 4  # PostHog has group types 0 to 4
MAX_PAGE_SIZE = 50_000  # what PostHog's query API returns at most per query

_COLUMN = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$0-9][\w$]*)*")
_HOURS = re.compile(r"^-(\d{1,6})h$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

# Refused anywhere in a `where` (outside string literals): what starts or changes a statement.
_STATEMENT_WORDS = frozenset({
    "insert", "update", "delete", "drop", "alter", "create", "truncate", "grant", "revoke", "attach", "detach",
    "system", "kill", "optimize", "rename", "exchange", "use", "set", "show", "describe", "explain", "backup",
    "restore", "undrop", "move",
})
# Refused outside brackets: what would end the expression and start another clause of the query.
_CLAUSE_WORDS = frozenset({
    "select", "from", "union", "except", "intersect", "limit", "offset", "order", "group", "having", "settings",
    "format", "into", "window", "qualify", "prewhere", "where", "join",
})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_STRING_ESCAPES = {
    "\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n", "\t": "\\t", "\0": "\\0",
    "\a": "\\a", "\v": "\\v",
}


class InvalidDataQuery(PostHogError, ValueError):
    """A data query that cannot be asked as it is; the message says why, for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None)


@dataclass(frozen=True)
class DataQuery:
    """What raw data to read. `columns` empty: the kind's defaults (`DEFAULT_COLUMNS`); names are HogQL
    fields (`event`, `properties.$browser`, `person.properties.email`) that the server resolves."""

    kind: DataKind
    date_from: str | None = "-7d"
    date_to: str | None = None
    events: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    where: str | None = None
    cohort_id: int | None = None
    group_type_index: int | None = None

    @property
    def effective_columns(self) -> tuple[str, ...]:
        return self.columns or DEFAULT_COLUMNS.get(self.kind, ())

    def describe(self) -> str:
        """Words for messages: "events", "persons", "members of cohort 5", "groups of type 0"."""
        if self.kind == "cohort":
            return f"members of cohort {self.cohort_id}"
        if self.kind == "groups":
            return f"groups of type {self.group_type_index}"
        return self.kind

    def validate(self) -> DataQuery:
        """The query itself when it can be asked; raises InvalidDataQuery saying what to change."""
        if self.kind not in DATA_KINDS:
            raise InvalidDataQuery(f"I can read events, persons, cohort or groups; not “{str(self.kind)[:30]}”.")
        if self.kind == "cohort":
            if not _is_id(self.cohort_id) or int(self.cohort_id or 0) < 1:
                raise InvalidDataQuery("Which cohort? Give its id, a number (from /cohorts/5 in PostHog).")
        elif self.cohort_id is not None:
            raise InvalidDataQuery("A cohort id is for reading a cohort's members (kind cohort).")
        if self.kind == "groups":
            index = self.group_type_index
            if not _is_id(index) or not 0 <= int(index or 0) <= MAX_GROUP_TYPE_INDEX:
                raise InvalidDataQuery(
                    f"Which group type? Give its index, 0 to {MAX_GROUP_TYPE_INDEX} (0 is the first group type "
                    "you set up, e.g. organization)."
                )
        elif self.group_type_index is not None:
            raise InvalidDataQuery("A group type index is for reading groups (kind groups).")
        if self.events and self.kind != "events":
            raise InvalidDataQuery(f"Event names filter events; {self.describe()} have none.")
        if len(self.events) > MAX_EVENTS:
            raise InvalidDataQuery(f"At most {MAX_EVENTS} event names per query.")
        for name in self.events:
            if not isinstance(name, str) or not name or len(name) > 400:
                raise InvalidDataQuery("An event name is between 1 and 400 characters, e.g. $pageview.")
        if len(self.columns) > MAX_COLUMNS:
            raise InvalidDataQuery(f"At most {MAX_COLUMNS} columns per query.")
        for column in self.columns:
            if not isinstance(column, str) or len(column) > 200 or not _COLUMN.fullmatch(column):
                raise InvalidDataQuery(
                    f"“{str(column)[:40]}” is not a column name (e.g. event, timestamp, properties.$browser)."
                )
        for label, value in (("start", self.date_from), ("end", self.date_to)):
            if value is not None:
                _check_date(value, label)
        if self.where is not None and self.where.strip():  # a blank filter is no filter
            check_where(self.where)
        return self


@dataclass
class RowPage:
    """One page of rows, each a list in the order of `columns`; `has_more`: another page follows. `offset`
    is the position of the first row in the whole result (where a resumed export starts again)."""

    columns: list[str]
    rows: list[list[Any]]
    has_more: bool
    offset: int = field(default=0)


# --- dates ---------------------------------------------------------------------------------------------------


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_date(value: str, label: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidDataQuery(f"The {label} date is empty. Use e.g. -7d, mStart or 2024-05-01.")
    try:
        _instant(value, datetime(2000, 1, 1, tzinfo=UTC), end=label == "end")
    except (DateRangeError, ValueError):
        raise InvalidDataQuery(
            f"“{value[:40]}” is not a PostHog date. Use e.g. -7d, -24h, mStart, -1mEnd or 2024-05-01."
        ) from None


def _instant(value: str, now: datetime, *, end: bool) -> datetime:
    """The moment one PostHog date string stands for at `now` (UTC); `end`: it closes a range (exclusive)."""
    value = value.strip()
    if m := _HOURS.match(value):
        return now - timedelta(hours=int(m[1]))
    if _ISO_DATETIME.match(value):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    day = resolve_date(value, now.date(), end=end)
    return _midnight(day + timedelta(days=1) if end else day)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def time_bounds(query: DataQuery, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the query's range in UTC at `now` (see the module's notes); None: unbounded. For
    events the end is `now` when no end is given; for the other kinds an open end stays open."""
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    start = _instant(query.date_from, now, end=False) if query.date_from else None
    if query.date_to:
        end: datetime | None = _instant(query.date_to, now, end=True)
    else:
        end = now if query.kind == "events" else None
    return start, end


# --- HogQL -----------------------------------------------------------------------------------------------------


def hogql_string(value: str) -> str:
    """A HogQL string literal."""
    return "'" + "".join(_STRING_ESCAPES.get(c, c) for c in value) + "'"


def _datetime_literal(moment: datetime) -> str:
    return f"toDateTime({hogql_string(moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ'))})"


def hogql(query: DataQuery, *, limit: int, offset: int, now: datetime | None = None) -> str:
    """The HogQL of one page of `query`: its rows `offset` to `offset + limit - 1` in a stable order. `now`
    (UTC; default: the current time) is the moment relative dates are resolved at."""
    query.validate()
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    start, end = time_bounds(query, now or datetime.now(UTC))
    columns = query.effective_columns
    where: list[str] = []
    if query.kind == "events":
        time_field, order = "timestamp", "timestamp ASC, uuid ASC"
        source = "events"
        select = ", ".join(columns)
    elif query.kind == "groups":
        time_field, order = "created_at", "created_at ASC, key ASC"
        source = "groups"
        select = ", ".join(columns)
        where.append(f"index = {int(query.group_type_index or 0)}")
    else:
        time_field, order = "persons.created_at", "persons.created_at ASC, persons.id ASC"
        source = "persons"
        if "distinct_ids" in columns:
            source += (
                " LEFT JOIN (SELECT person_id, groupArray(distinct_id) AS distinct_ids FROM person_distinct_ids "
                "GROUP BY person_id) AS pdis ON pdis.person_id = persons.id"
            )
        select = ", ".join("pdis.distinct_ids AS distinct_ids" if c == "distinct_ids" else c for c in columns)
        if query.kind == "cohort":
            where.append(f"persons.id IN COHORT {int(query.cohort_id or 0)}")
    if start is not None:
        where.append(f"{time_field} >= {_datetime_literal(start)}")
    if end is not None:
        where.append(f"{time_field} < {_datetime_literal(end)}")
    if query.events:
        where.append(f"event IN ({', '.join(hogql_string(e) for e in query.events)})")
    if query.where is not None and query.where.strip():
        where.append(f"({query.where.strip()})")
    text = f"SELECT {select} FROM {source}"
    if where:
        text += " WHERE " + " AND ".join(where)
    return f"{text} ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}"


def check_where(text: str) -> str:
    """`text` when it reads as one HogQL expression (see the module's notes); raises InvalidDataQuery."""
    example = "e.g. event = '$pageview' AND properties.$browser = 'Chrome'"
    if not isinstance(text, str):
        raise InvalidDataQuery(f"A filter is one expression, {example}.")
    if len(text) > MAX_WHERE_LENGTH:
        raise InvalidDataQuery(f"A filter is at most {MAX_WHERE_LENGTH} characters.")
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = _end_of_quoted(text, i)
            if end < 0:
                raise InvalidDataQuery(f"A quote in the filter is never closed ({text[i:i + 20]}…).")
            i = end + 1
            continue
        if c == ";":
            raise InvalidDataQuery(f"A filter is one expression, {example}; no semicolons.")
        if text.startswith("--", i) or text.startswith("/*", i) or text.startswith("*/", i):
            raise InvalidDataQuery("A filter has no comments (--, /* */).")
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                raise InvalidDataQuery(f"A bracket in the filter closes one that was never opened: {text[:60]}")
        elif c.isascii() and (c.isalpha() or c == "_"):
            m = _WORD.match(text, i)
            assert m is not None
            before = text[i - 1] if i else ""
            word = m.group().lower()
            # a word of its own, not part of a field (properties.set) or of a name ($set)
            if not (before and (before.isalnum() or before in "_$.")) and (
                word in _STATEMENT_WORDS or (depth == 0 and word in _CLAUSE_WORDS)
            ):
                raise InvalidDataQuery(
                    f"A filter is one expression, {example}; “{m.group()}” starts another statement or clause."
                )
            i = m.end()
            continue
        i += 1
    if depth != 0:
        raise InvalidDataQuery("A bracket in the filter is never closed.")
    if not text.strip():
        raise InvalidDataQuery(f"The filter is empty; give an expression, {example}.")
    return text


def _end_of_quoted(text: str, start: int) -> int:
    """Index of the quote closing the literal or quoted name opened at `start`; -1 when none does."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # a doubled quote stands for itself
                i += 2
                continue
            return i
        i += 1
    return -1


# --- paging ------------------------------------------------------------------------------------------------------


async def data_pages(
    source: PostHogClient | DemoProject,
    query: DataQuery,
    *,
    page_size: int,
    start_at: int = 0,
    now: datetime | None = None,
) -> AsyncIterator[RowPage]:
    """The rows of `query` from row `start_at` on, `page_size` at a time (the last page may be shorter or
    empty). Each page is one request, retried by the client on 429, 5xx and time-outs; a failure after the
    retries raises (PostHogUnavailable...), and paging again with `start_at` set to the rows already read
    resumes there. `now` pins relative dates (default: when the first page is asked); a resumed export passes
    the same `now` to read the same rows."""
    query.validate()
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}")
    if start_at < 0:
        raise ValueError("start_at must be at least 0")
    now = now or datetime.now(UTC)
    columns = list(query.effective_columns)
    offset = start_at
    while True:
        if isinstance(source, PostHogClient):
            page = await _client_page(source, query, columns, page_size, offset, now)
        else:
            page = await source.data_page(query, page_size, offset)
            page.offset = offset
        yield page
        if not page.has_more or not page.rows:
            return
        offset += len(page.rows)


async def _client_page(
    client: PostHogClient, query: DataQuery, columns: list[str], page_size: int, offset: int, now: datetime
) -> RowPage:
    # One row more than the page: whether another page follows, without asking for an empty one.
    text = hogql(query, limit=page_size + 1, offset=offset, now=now)
    what = f"{query.describe()}, rows {offset + 1} to {offset + page_size}"
    data = await client.query(text, what=what)
    results = data["results"]
    if any(not isinstance(row, list) or len(row) != len(columns) for row in results):
        raise PostHogPayloadError(
            f"PostHog at {client.host} returned rows that do not match the {len(columns)} columns asked for "
            f"{what}."
        )
    rows = results[:page_size]
    has_more = bool(rows) and (len(results) > page_size or data.get("hasMore") is True)
    return RowPage(columns=list(columns), rows=rows, has_more=has_more, offset=offset)
