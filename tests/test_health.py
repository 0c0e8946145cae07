"""Liveness, readiness and logs: `/healthz` answers while the process lives, `/readyz` says whether it can work
(database, schema, browsers or Grid, scheduler heartbeat) with a reason when it cannot, and log records are JSON
without secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from app import build_web_app
from core import health
from core.db import Database
from core.logs import REDACTED, JsonFormatter, Redact, log_context, make_handler
from core.settings import Settings
from render import Renderer
from render.browser_pool import BrowserPool, PoolConfig

CLOSED_PORT_URL = "postgresql+asyncpg://postgres@127.0.0.1:9/none"  # port 9 (discard) is closed: refused at once


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable]:
    """Start `build_web_app(...)` on a loopback port 0; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(settings: Settings, database: Database, **kwargs) -> str:
        runner = web.AppRunner(build_web_app(settings, database, **kwargs))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


def settings_for(database_url: str, **overrides) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key", scheduler_poll_seconds=1.0, **overrides)


async def test_healthz_and_readyz_answer_ok_on_a_migrated_database(db: Database, serve_app) -> None:
    base = await serve_app(settings_for(db.url), db)
    assert await get(f"{base}/healthz") == (200, {"status": "ok"})
    status, body = await get(f"{base}/readyz")
    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "browser": "not run in this process",
                   "scheduler": "not run in this process"},
    }


async def test_readyz_is_503_with_a_reason_when_the_database_cannot_be_reached(serve_app) -> None:
    database = Database(CLOSED_PORT_URL)
    try:
        base = await serve_app(settings_for(CLOSED_PORT_URL), database)
        started = time.monotonic()
        status, body = await get(f"{base}/readyz")
        assert time.monotonic() - started < 5  # fails fast, well inside a probe's time-out
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("unreachable (")
        assert body["checks"]["migrations"] == "not checked"
        assert await get(f"{base}/healthz") == (200, {"status": "ok"})  # alive all the same
    finally:
        await database.dispose()


async def test_readyz_is_503_on_a_database_behind_the_code(tmp_path: Path, serve_app) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}"
    database = Database(url)
    try:
        status, body = await get(f"{await serve_app(settings_for(url), database)}/readyz")
    finally:
        await database.dispose()
    assert status == 503
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"].startswith("The database is at revision none")


async def test_readyz_checks_the_scheduler_heartbeat_when_one_runs(db: Database, serve_app) -> None:
    beat = health.Heartbeat()
    base = await serve_app(settings_for(db.url), db, heartbeat=beat.age)
    status, body = await get(f"{base}/readyz")
    assert (status, body["checks"]["scheduler"]) == (503, "not started")

    beat.beat()
    status, body = await get(f"{base}/readyz")
    assert (status, body["checks"]["scheduler"]) == (200, "ok")

    beat.last = time.monotonic() - 3.5  # more than 3 poll intervals (1 s) ago
    status, body = await get(f"{base}/readyz")
    assert status == 503 and body["checks"]["scheduler"].startswith("stale: last tick")


async def test_readyz_checks_the_renderers_browsers_and_fails_once_its_pool_is_closed(db: Database, serve_app) -> None:
    async with Renderer(Settings(), pool_size=1) as renderer:
        base = await serve_app(settings_for(db.url), db, renderer=lambda: renderer)
        status, body = await get(f"{base}/readyz")
        assert (status, body["checks"]["browser"]) == (200, "ok")

        await renderer.pool.close()
        status, body = await get(f"{base}/readyz")
        assert (status, body["status"], body["checks"]["browser"]) == (503, "unavailable", "browser pool closed")
        assert body["checks"]["database"] == "ok"
    status, body = await get(f"{base}/readyz")  # the renderer gone altogether
    assert (status, body["checks"]["browser"]) == (503, "renderer not running")


@pytest.fixture
async def grid_status() -> AsyncIterator[tuple[str, dict]]:
    """A stand-in for a Selenium Grid's `GET /status` on a loopback port 0: (its URL, the `value` it answers)."""
    value: dict = {"ready": False, "message": "Selenium Grid not ready."}

    async def status(_request: web.Request) -> web.Response:
        return web.json_response({"value": value})

    app = web.Application()
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", value
    await runner.cleanup()


async def test_readyz_asks_the_selenium_grid_when_one_is_set(db: Database, serve_app, grid_status) -> None:
    grid_url, value = grid_status
    settings = settings_for(db.url, selenium_grid_url=grid_url)
    renderer = Renderer(settings)  # open on the Grid (its sessions are the Grid's business, not this test's)
    renderer.pool = BrowserPool(PoolConfig(base_url="http://127.0.0.1:9", grid_url=grid_url), "/")
    base = await serve_app(settings, db, renderer=lambda: renderer)

    status, body = await get(f"{base}/readyz")
    assert status == 503
    assert body["checks"]["browser"] == f"Selenium Grid at {grid_url} not ready: Selenium Grid not ready."

    value.update(ready=True, message="Selenium Grid ready.")
    status, body = await get(f"{base}/readyz")
    assert (status, body["checks"]["browser"]) == (200, "ok")


async def test_the_browser_check_gives_a_reason_and_never_raises() -> None:
    grid = "http://user:secret@127.0.0.1:9/wd/hub"  # port 9 (discard) is closed: refused at once
    pool = BrowserPool(PoolConfig(base_url="http://127.0.0.1:9", grid_url=grid), "/")
    holder = type("Holder", (), {"pool": pool})()
    result = await health.BrowserCheck(lambda: holder, grid)(timeout=2.0)
    assert result.startswith("Selenium Grid at http://127.0.0.1:9/wd/hub unreachable (") and "secret" not in result

    def broken_renderer():
        raise RuntimeError("no renderer here")

    assert await health.BrowserCheck(broken_renderer)(timeout=2.0) == "check failed (RuntimeError: no renderer here)"
    local = BrowserPool(PoolConfig(base_url="http://127.0.0.1:9"), "/")  # open, never started: no session
    holder.pool = local
    assert await health.BrowserCheck(lambda: holder)(timeout=2.0) == "no live browser session in the pool"


class TcpRelay:
    """A loopback port that forwards to PostgreSQL and can be cut and restored, as a network or a database
    restart would: `stop` refuses new connections and drops the open ones, `start` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


async def test_readyz_follows_postgresql_going_away_and_coming_back_without_a_restart(
    db: Database, serve_app
) -> None:
    url = make_url(db.url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("cuts a PostgreSQL connection; runs in the PostgreSQL half of the test command")
    relay = TcpRelay(url.port or 5432)
    await relay.start()
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    database = Database(relayed)
    try:
        base = await serve_app(settings_for(relayed), database)
        assert (await get(f"{base}/readyz"))[0] == 200

        await relay.stop()
        status, body = await get(f"{base}/readyz")
        assert status == 503
        assert body["checks"]["database"].startswith("unreachable (")
        assert await get(f"{base}/healthz") == (200, {"status": "ok"})

        await relay.start()  # the same port: the process's settings have not changed
        status, body = await get(f"{base}/readyz")
        assert (status, body["checks"]["database"]) == (200, "ok")
    finally:
        await database.dispose()
        await relay.stop()


# --- logs --------------------------------------------------------------------------------------------------


def log_through(handler: logging.Handler, *args, **kwargs) -> None:
    logger = logging.getLogger("tests.health.logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        logger.warning(*args, **kwargs)
    finally:
        logger.removeHandler(handler)


def test_json_logs_are_one_object_per_line_with_the_ids_and_no_secrets() -> None:
    stream = io.StringIO()
    settings = settings_for("sqlite+aiosqlite:///unused.db", log_format="json", smtp_password="hunter2-smtp-pass")
    handler = make_handler(settings, stream)
    log_through(
        handler, "posting with %s and key %s (smtp %s, secret %s)",
        "xoxb-123-456-abcDEF", "phx_AbC123xyz", "hunter2-smtp-pass", "test-secret-key",
        extra={"delivery_id": 7, "subscription_id": 3, "workspace_id": 2, "target": "C1"},
    )
    try:
        raise RuntimeError("token xoxp-9-9-secret leaked into an error")
    except RuntimeError:
        log_through(handler, "failed", exc_info=True)

    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert set(first) == {"time", "level", "logger", "message", "delivery_id", "subscription_id", "workspace_id",
                          "target"}
    assert (first["level"], first["logger"]) == ("WARNING", "tests.health.logs")
    assert (first["delivery_id"], first["subscription_id"], first["workspace_id"], first["target"]) == (7, 3, 2, "C1")
    assert first["time"].endswith("+00:00")
    assert first["message"] == f"posting with {REDACTED} and key {REDACTED} (smtp {REDACTED}, secret {REDACTED})"
    assert "xoxp-9-9-secret" not in stream.getvalue() and "RuntimeError" in second["exception"]
    assert "delivery_id" not in second


def test_text_logs_are_redacted_too() -> None:
    stream = io.StringIO()
    handler = make_handler(settings_for("sqlite+aiosqlite:///unused.db"), stream)
    log_through(handler, "token %s", "xoxe.xoxp-1-refresh")
    assert stream.getvalue().rstrip().endswith(f"token {REDACTED}")


def test_redaction_leaves_ordinary_text_alone() -> None:
    redact = Redact(["", "abc", "a-long-configured-secret"])  # too short to be a secret: ignored
    assert redact.redact("abc xoxo phx rate limited") == "abc xoxo phx rate limited"
    assert redact.redact("key=a-long-configured-secret") == f"key={REDACTED}"
    assert JsonFormatter().format(logging.makeLogRecord({"msg": "plain", "levelname": "INFO"}))


async def test_records_inside_a_log_context_carry_its_ids_and_tasks_inherit_them() -> None:
    stream = io.StringIO()
    handler = make_handler(settings_for("sqlite+aiosqlite:///unused.db", log_format="json"), stream)
    with log_context(delivery_id=7, subscription_id=3, workspace_id=None):
        with log_context(target="C1"):
            await asyncio.create_task(_log_later(handler, "inside"))  # a task started inside
        log_through(handler, "outer", extra={"delivery_id": 8})  # an explicit id wins
    log_through(handler, "outside")

    inside, outer, outside = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (inside["delivery_id"], inside["subscription_id"], inside["target"]) == (7, 3, "C1")
    assert "workspace_id" not in inside
    assert (outer["delivery_id"], outer["subscription_id"]) == (8, 3) and "target" not in outer
    assert not set(outside) & {"delivery_id", "subscription_id", "workspace_id", "target"}
    with pytest.raises(ValueError, match="not a log id: user"):
        with log_context(user="U1"):
            pass


async def _log_later(handler: logging.Handler, message: str) -> None:
    await asyncio.sleep(0)
    log_through(handler, message)
