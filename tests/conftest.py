"""Shared test fixtures: a real database (SQLite file or PostgreSQL), migrated once per run.

The database comes from TEST_DATABASE_URL (the test command runs the suite once with SQLite and once with
PostgreSQL). Each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# Settings are read from the environment once; pin the ones tests rely on before anything imports them.
_TMP = Path(tempfile.mkdtemp(prefix="posthog-exports-tests-"))
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ["POSTHOG_EXPORTS_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("OUTBOX_DIR", str(_TMP / "outbox"))
# Every process this run starts (workers, chromedriver, Chromium, Grid nodes) inherits this mark, so the end of the
# run can find the ones that outlived it, and no other run's processes are mistaken for them.
RUN_MARK = f"POSTHOG_EXPORTS_TEST_RUN={uuid.uuid4().hex}"
os.environ["POSTHOG_EXPORTS_TEST_RUN"] = RUN_MARK.split("=", 1)[1]

from sqlalchemy import text  # noqa: E402

from core import migrations  # noqa: E402
from core.db import Database, empty_tables  # noqa: E402
from core.models import Base  # noqa: E402

DEFAULT_SQLITE_URL = f"sqlite+aiosqlite:///{_TMP / 'test.db'}"


def database_url_under_test() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_SQLITE_URL


async def _reset_schema(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            if database.engine.dialect.name == "postgresql":
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            else:
                await connection.run_sync(Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await database.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test command runs the suite on SQLite, then again on PostgreSQL. The second run keeps only the tests
    that use the database under test (through `database_url`): the others (rendering, parsing, schedules...) do
    not change with the database and already ran."""
    if not database_url_under_test().startswith("postgresql"):
        return
    keep = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    dropped = [item for item in items if "database_url" not in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def database_url() -> str:
    """A migrated, empty database. Fails loudly (never skips) when the database cannot be reached."""
    url = database_url_under_test()
    try:
        asyncio.run(_reset_schema(url))
    except Exception as exc:  # noqa: BLE001 - any connection problem must stop the run with a clear reason
        pytest.exit(f"the test database {url} cannot be reached: {exc}", returncode=3)
    migrations.upgrade(url)
    return url


@pytest.fixture
async def db(database_url: str):
    """A Database on empty tables."""
    database = Database(database_url)
    await empty_tables(database)
    yield database
    await database.dispose()


# --- no stray browsers -------------------------------------------------------------------------------------------

BROWSER_NAMES = ("chromium", "chrome", "chromedriver", "java")  # java: Selenium Grid hubs and nodes
STRAY_GRACE_SECONDS = 10.0  # processes told to quit by the last test may take a moment to be gone


def _marked_processes() -> dict[int, str]:
    """Browser processes (by pid: their command line) that carry this run's mark."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if RUN_MARK.encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and any(name in Path(command.split(" ", 1)[0]).name for name in BROWSER_NAMES):
            found[int(entry.name)] = command
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run fails when a chromedriver, Chromium or Grid process it started is still running at its end."""
    deadline = time.monotonic() + STRAY_GRACE_SECONDS
    while (strays := _marked_processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not strays:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = "\n".join(f"  {pid}: {command[:160]}" for pid, command in sorted(strays.items()))
    message = f"{len(strays)} browser process(es) started by this run outlived it:\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message)
    for pid in strays:  # tidy up, so one failing run does not leave its leak to the next
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
