"""A stand-in PostHog HTTP server for tests: a real aiohttp server on 127.0.0.1, port 0.

It serves the few endpoints the client uses from plain dicts, checks the Bearer key like PostHog (401 when it
is wrong), answers 403 for other projects, records every request, and can be scripted to misbehave per path
(a status N times, a malformed body, a delay).

The query API (POST /api/projects/{id}/query/, kind HogQLQuery) serves `event_rows` generated event rows in
PostHog's answer format (`columns`, `types`, `results`, `hasMore`): row i is the same on every request, the
columns are read from the SELECT list (known event fields get values, others null), and only LIMIT/OFFSET at
the end of the HogQL is honoured (no WHERE). Every HogQL received is kept in `queries`; `fail_query_at` makes
the request for one page (by its OFFSET) fail N times before it is served.

HogQL reading `FROM persons` or `FROM groups` is served from `persons` and `groups` instead (filled with
`add_person`, `add_cohort` and `add_group`), in the order they were added: `persons.id IN COHORT n` keeps the
members of cohort n and `index = n` the groups of type n; other conditions are not applied. A person's columns
are `id`, `created_at`, `distinct_ids` (a list, as PostHog's groupArray), `properties` (JSON text, as PostHog
sends it) and `properties.<name>`; a group's are `key`, `index`, `created_at`, `properties` and
`properties.<name>`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    at: float  # time.monotonic() when the request arrived


@dataclass(slots=True)
class Fault:
    """How to answer the next `times` requests for one path instead of serving it normally."""

    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body; None means a small JSON error like PostHog's
    delay: float = 0.0  # seconds to wait before answering (a slow server)
    then_serve: bool = False  # after the delay, serve the real answer (for time-outs)


class PostHogStandIn:
    def __init__(
        self,
        *,
        api_key: str = "phx_standin_secret_key_123",
        project_id: int = 2,
        project_name: str = "Acme",
    ) -> None:
        self.api_key = api_key
        self.project_id = project_id
        self.project_name = project_name
        # More of the project's fields (PostHog's Team), served with its id and name; tests may change or drop them.
        self.project_fields: dict[str, Any] = {"timezone": "UTC", "base_currency": "USD"}
        self.insights: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, list[Fault]] = {}
        self.event_rows = 0  # rows the query API has to serve
        self.query_delay = 0.0  # seconds each query page takes (a slow PostHog)
        self.queries: list[str] = []  # every HogQL the query API received, in order (failed attempts too)
        self._page_faults: dict[int, list[Fault]] = {}
        self.persons: list[dict[str, Any]] = []  # served to HogQL FROM persons (add_person)
        self.cohorts: dict[int, list[str]] = {}  # cohort id -> its members' person ids (add_cohort)
        self.groups: list[dict[str, Any]] = []  # served to HogQL FROM groups (add_group)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------ scripting

    def add_insight(self, payload: dict[str, Any]) -> None:
        self.insights[payload["id"]] = payload

    def add_dashboard(self, payload: dict[str, Any]) -> None:
        self.dashboards[payload["id"]] = payload

    def add_person(
        self, person_id: str, created_at: str, distinct_ids: list[str], properties: dict[str, Any]
    ) -> None:
        self.persons.append({"id": person_id, "created_at": created_at, "distinct_ids": list(distinct_ids),
                             "properties": dict(properties)})

    def add_cohort(self, cohort_id: int, person_ids: list[str]) -> None:
        self.cohorts[cohort_id] = list(person_ids)

    def add_group(self, index: int, key: str, created_at: str, properties: dict[str, Any]) -> None:
        self.groups.append({"index": index, "key": key, "created_at": created_at, "properties": dict(properties)})

    def fail(
        self,
        path: str,
        *,
        status: int = 503,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        delay: float = 0.0,
        then_serve: bool = False,
    ) -> None:
        """Answer the next `times` requests for `path` (no query string) with this fault; queued in order."""
        fault = Fault(times, status, dict(headers or {}), body, delay, then_serve)
        self._faults.setdefault(path, []).append(fault)

    def insight_path(self, insight_id: int | None = None) -> str:
        base = f"/api/projects/{self.project_id}/insights/"
        return base if insight_id is None else f"{base}{insight_id}/"

    def project_path(self) -> str:
        return f"/api/projects/{self.project_id}/"

    def dashboard_path(self, dashboard_id: int) -> str:
        return f"/api/projects/{self.project_id}/dashboards/{dashboard_id}/"

    def query_path(self) -> str:
        return f"/api/projects/{self.project_id}/query/"

    def fail_query_at(
        self, offset: int, *, status: int = 503, times: int = 1, headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next `times` query requests whose HogQL ends in OFFSET `offset` with this status."""
        self._page_faults.setdefault(offset, []).append(Fault(times, status, dict(headers or {}), body))

    def query_offsets(self) -> list[int]:
        """The OFFSET of every HogQL received, in order."""
        return [_limit_offset(q)[1] for q in self.queries]

    @staticmethod
    def event_row_value(i: int, column: str) -> Any:
        """The value of generated event row `i` in `column` (None for a column the stand-in does not know)."""
        if column == "timestamp":
            moment = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=i)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if column == "event":
            return ("$pageview", "$autocapture", "$pageleave", "signed_up", "purchase")[i % 5]
        if column == "distinct_id":
            return f"user{i % 97}@example.com"
        if column == "person_id":
            return f"0190a3b2-0000-7000-8000-{i % 97:012d}"
        if column == "uuid":
            return f"0190a3b2-1111-7000-8000-{i:012d}"
        if column == "properties.$current_url":
            return f"https://app.example.com/page/{i % 13}"
        if column == "properties.$browser":
            return ("Chrome", "Safari", "Firefox")[i % 3]
        if column == "properties":
            return json.dumps({"$browser": ("Chrome", "Safari", "Firefox")[i % 3], "n": i})
        return None

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/projects/{pid}/", self._project)
        app.router.add_get("/api/projects/{pid}/insights/", self._insight_list)
        app.router.add_get("/api/projects/{pid}/insights/{iid}/", self._insight)
        app.router.add_get("/api/projects/{pid}/dashboards/{did}/", self._dashboard)
        app.router.add_post("/api/projects/{pid}/query/", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ handlers

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                request.headers.get("Authorization"),
                time.monotonic(),
            )
        )
        queue = self._faults.get(request.path)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if not fault.then_serve:
                body = (
                    fault.body
                    if fault.body is not None
                    else json.dumps({"type": "server_error", "detail": f"Scripted fault {fault.status}"}).encode()
                )
                return web.Response(
                    status=fault.status, body=body, headers=fault.headers, content_type="application/json"
                )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "authentication_error", "Personal API key found in request is invalid.")
        if request.match_info.get("pid") != str(self.project_id):
            return _error(403, "authentication_error", "You don't have access to the project.")
        return await handler(request)

    async def _project(self, request: web.Request) -> web.Response:
        return web.json_response({"id": self.project_id, "name": self.project_name, **self.project_fields})

    async def _insight_list(self, request: web.Request) -> web.Response:
        short_id = request.query.get("short_id")
        found = [i for i in self.insights.values() if short_id is None or i.get("short_id") == short_id]
        return web.json_response({"next": None, "previous": None, "results": found})

    async def _insight(self, request: web.Request) -> web.Response:
        iid = request.match_info["iid"]
        payload = self.insights.get(int(iid)) if iid.isdigit() else None
        if payload is None:
            return _error(404, "invalid_request", "Not found.")
        return web.json_response(payload)

    async def _dashboard(self, request: web.Request) -> web.Response:
        did = request.match_info["did"]
        payload = self.dashboards.get(int(did)) if did.isdigit() else None
        if payload is None:
            return _error(404, "invalid_request", "Not found.")
        return web.json_response(payload)

    async def _query(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, "validation_error", "Malformed JSON.")
        query = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(query, dict) or query.get("kind") != "HogQLQuery" or not isinstance(query.get("query"), str):
            return _error(400, "validation_error", "Expected a query of kind HogQLQuery.")
        text = query["query"]
        self.queries.append(text)
        if self.query_delay:
            await asyncio.sleep(self.query_delay)
        limit, offset = _limit_offset(text)
        queue = self._page_faults.get(offset)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            body = fault.body if fault.body is not None else json.dumps(
                {"type": "server_error", "detail": f"Scripted fault {fault.status} at offset {offset}"}
            ).encode()
            return web.Response(status=fault.status, body=body, headers=fault.headers, content_type="application/json")
        columns = _select_columns(text)
        records = self._records(text)
        total = self.event_rows if records is None else len(records)
        end = min(offset + limit, total)
        if records is None:
            rows = [[self.event_row_value(i, c) for c in columns] for i in range(offset, end)]
        else:
            rows = [[_record_value(records[i], c) for c in columns] for i in range(offset, end)]
        return web.json_response({
            "columns": columns,
            "types": ["String" for _ in columns],
            "results": rows,
            "hasMore": end < total,
            "limit": limit,
            "offset": offset,
            "hogql": text,
        })


    def _records(self, hogql: str) -> list[dict[str, Any]] | None:
        """The persons or groups a HogQL reads (a cohort's members, one group type's), None for events."""
        source = re.search(r"\bFROM\s+(\w+)", hogql, re.I)
        table = source[1].lower() if source else ""
        if table == "persons":
            cohort = re.search(r"\bIN\s+COHORT\s+(\d+)", hogql, re.I)
            if cohort is None:
                return self.persons
            members = set(self.cohorts.get(int(cohort[1]), ()))
            return [p for p in self.persons if p["id"] in members]
        if table == "groups":
            index = re.search(r"\bindex\s*=\s*(\d+)", hogql, re.I)
            return [g for g in self.groups if index is None or g["index"] == int(index[1])]
        return None


def _record_value(record: dict[str, Any], column: str) -> Any:
    """A person's or a group's value in `column` (None for a column it does not have)."""
    name = column.split(".", 1)[1] if column.startswith(("persons.", "groups.", "pdis.")) else column
    if name == "properties":
        return json.dumps(record["properties"])
    if name.startswith("properties."):
        return record["properties"].get(name.split(".", 1)[1])
    return record.get(name)


_LIMIT = re.compile(r"\bLIMIT\s+(\d+)(?:\s+OFFSET\s+(\d+))?\s*$", re.I)


def _limit_offset(hogql: str) -> tuple[int, int]:
    """LIMIT and OFFSET at the end of a HogQL query (PostHog's default of 100 rows without one)."""
    m = _LIMIT.search(hogql)
    return (int(m[1]), int(m[2] or 0)) if m else (100, 0)


def _select_columns(hogql: str) -> list[str]:
    """The names of the SELECT list's columns (an alias when there is one)."""
    m = re.match(r"\s*SELECT\s+(.*?)\s+FROM\s", hogql, re.I | re.S)
    if m is None:
        return []
    names, depth, current = [], 0, ""
    for c in m[1] + ",":
        if c == "," and depth == 0:
            name = re.split(r"\s+AS\s+", current.strip(), flags=re.I)[-1].strip("`\"")
            names.append(name)
            current = ""
            continue
        depth += c == "("
        depth -= c == ")"
        current += c
    return names


def _error(status: int, kind: str, detail: str) -> web.Response:
    return web.json_response({"type": kind, "code": "error", "detail": detail, "attr": None}, status=status)
