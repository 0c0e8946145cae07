"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.db import Database
from core.models import Base

ROOT = Path(__file__).resolve().parent.parent


async def test_models_and_migrations_do_not_drift(db: Database) -> None:
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], f"models and migrations differ; run `python app.py db revision -m ...`: {differences}"


async def test_every_model_table_exists(db: Database) -> None:
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_db_upgrade_command_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "empty.db"
    url = f"sqlite+aiosqlite:///{path}"
    result = _app("db", "upgrade", "--url", url)
    assert result.returncode == 0, result.stderr
    assert path.exists()
    check = _app("db", "current", "--url", url)
    assert "(head)" in check.stdout + check.stderr


def _app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


async def _tables(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await database.dispose()


async def test_db_downgrade_and_upgrade_commands_on_the_database_under_test(database_url: str) -> None:
    result = _app("db", "downgrade", "base", "--url", database_url)
    assert result.returncode == 0, result.stderr
    assert not set(Base.metadata.tables) & await _tables(database_url)
    result = _app("db", "upgrade", "--url", database_url)
    assert result.returncode == 0, result.stderr
    assert set(Base.metadata.tables) <= await _tables(database_url)


def test_worker_refuses_to_start_on_a_database_that_is_behind(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"}
    result = subprocess.run(
        [sys.executable, "app.py", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "python app.py db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
