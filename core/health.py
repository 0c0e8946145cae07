"""Liveness and readiness of a process.

`/healthz` says the process is alive (its event loop answers). `/readyz` says it can do its work: the database
answers, its schema is the one the code needs, the browsers of this process's renderer (when it has one) can take a
render (a live session in the local pool, or a Selenium Grid that says it is ready), and the scheduler of this
process (when it runs one) has ticked recently. Each check answers `ok` or a short reason; no check takes longer
than `timeout`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import text
from yarl import URL

from core.migrations import DatabaseNotMigrated, require_current

OK = "ok"
NOT_HERE = "not run in this process"  # the scheduler or browser check of a process without one
STALE_AFTER_POLLS = 3  # a scheduler that has not ticked for this many poll intervals is stuck


class Heartbeat:
    """The time of the last scheduler tick (monotonic, so test clocks and clock steps do not matter)."""

    def __init__(self) -> None:
        self.last: float | None = None

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float | None:
        return None if self.last is None else time.monotonic() - self.last


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"unreachable ({type(exc).__name__})"


async def check_database(engine, timeout: float = 2.0) -> str:
    async def select_one() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(select_one(), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is a reason, never a 500
        return _reason(exc)
    return OK


async def check_migrations(url: str, timeout: float = 5.0) -> str:
    """The schema is at the code's head revision (`require_current`, in a thread: it runs its own loop)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(require_current, url), timeout)
    except DatabaseNotMigrated as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return _reason(exc)
    return OK


class SchemaCheck:
    """`check_migrations`, its "ok" remembered for `ttl` seconds: a probe every few seconds should not start an
    engine and read the Alembic scripts each time. A failure is never remembered."""

    def __init__(self, url: str, ttl: float = 30.0) -> None:
        self.url, self.ttl = url, ttl
        self._ok_until = 0.0

    async def __call__(self, timeout: float) -> str:
        if time.monotonic() < self._ok_until:
            return OK
        result = await check_migrations(self.url, timeout)
        if result == OK:
            self._ok_until = time.monotonic() + self.ttl
        return result


class BrowserCheck:
    """The browsers of this process's renderer: its pool is open and has a live session (a local pool), or the
    Selenium Grid answers `GET <grid>/status` with `value.ready` true (SELENIUM_GRID_URL). Cheap: it reads the
    pool's state and asks the Grid at most once per `ttl` seconds while the Grid says ready (a failure is never
    remembered); it never renders nor starts a session. `renderer` gives the process's Renderer (None before it
    starts). Any error is a reason, never an exception."""

    def __init__(self, renderer: Callable[[], Any], grid_url: str = "", ttl: float = 5.0) -> None:
        self.renderer, self.grid_url, self.ttl = renderer, grid_url, ttl
        self._grid_ok_until = 0.0

    async def __call__(self, timeout: float) -> str:
        try:
            return await self._check(timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is a reason, never a 500
            return f"check failed ({type(exc).__name__}: {exc})"

    async def _check(self, timeout: float) -> str:
        pool = getattr(self.renderer(), "pool", None)
        if pool is None:
            return "renderer not running"
        if pool.closed:
            return "browser pool closed"
        if self.grid_url:
            return await self._grid(timeout)
        if pool.live_sessions < 1:
            return "no live browser session in the pool"
        return OK

    async def _grid(self, timeout: float) -> str:
        if time.monotonic() < self._grid_ok_until:
            return OK
        url = URL(self.grid_url)
        where = f"Selenium Grid at {url.with_user(None).with_query(None)}"  # never its credentials
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                    http.get(url.joinpath("status")) as response:
                if response.status != 200:
                    return f"{where} answered HTTP {response.status} to /status"
                body = await response.json(content_type=None)
        except Exception as exc:  # noqa: BLE001
            return f"{where} {_reason(exc)}"
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict):
            return f"{where} answered /status without a value"
        if value.get("ready") is not True:
            message = value.get("message")
            return f"{where} not ready" + (f": {message}" if isinstance(message, str) and message else "")
        self._grid_ok_until = time.monotonic() + self.ttl
        return OK


def check_scheduler(age: float | None, poll_seconds: float) -> str:
    if age is None:
        return "not started"
    if age > STALE_AFTER_POLLS * poll_seconds:
        return f"stale: last tick {age:.0f} s ago"
    return OK


async def readiness(
    database, *, heartbeat: Callable[[], float | None] | None = None, poll_seconds: float = 5.0,
    timeout: float = 2.0, schema: SchemaCheck | None = None, browser: BrowserCheck | None = None,
) -> tuple[bool, dict]:
    """(ready, body). `heartbeat` gives the seconds since the last scheduler tick (None: not started); without it
    no scheduler runs in this process and none is checked. Without `browser` this process renders nothing and
    no browser is checked."""
    schema = schema or SchemaCheck(database.url, ttl=0)
    browser_result = asyncio.ensure_future(browser(timeout)) if browser is not None else None
    checks = {"database": await check_database(database.engine, timeout)}
    checks["migrations"] = await schema(timeout * 2.5) if checks["database"] == OK else "not checked"
    checks["browser"] = await browser_result if browser_result is not None else NOT_HERE
    checks["scheduler"] = check_scheduler(heartbeat(), poll_seconds) if heartbeat is not None else NOT_HERE
    ready = all(value in (OK, NOT_HERE) for value in checks.values())
    return ready, {"status": OK if ready else "unavailable", "checks": checks}


def readyz_handler(
    database, *, heartbeat: Callable[[], float | None] | None = None, poll_seconds: float = 5.0,
    renderer: Callable[[], Any] | None = None, grid_url: str = "",
):
    """GET /readyz: 200 when every check passes, 503 with the reasons otherwise. `renderer` gives the process's
    Renderer (None while it is not running); without it the process renders nothing and no browser is checked."""

    schema = SchemaCheck(database.url)
    browser = BrowserCheck(renderer, grid_url) if renderer is not None else None

    async def readyz(_request: web.Request) -> web.Response:
        ready, body = await readiness(
            database, heartbeat=heartbeat, poll_seconds=poll_seconds, schema=schema, browser=browser)
        return web.json_response(body, status=200 if ready else 503)

    return readyz


async def healthz(_request: web.Request) -> web.Response:
    """GET /healthz: the process is alive."""
    return web.json_response({"status": OK})
