"""Shared test fixtures: a real database (SQLite file or PostgreSQL), migrated once per run.

The database comes from TEST_DATABASE_URL (the test command runs the suite once with SQLite and once with
PostgreSQL). Each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

# Settings are read from the environment once; pin the ones tests rely on before anything imports them.
_TMP = Path(tempfile.mkdtemp(prefix="posthog-exports-tests-"))
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ["POSTHOG_EXPORTS_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("OUTBOX_DIR", str(_TMP / "outbox"))

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
