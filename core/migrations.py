"""Schema migrations through Alembic, driven from `python app.py db ...` and from tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from core.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> None:
    command.current(alembic_config(url), verbose=True)


def revision(url: str, message: str) -> None:
    """Write a new migration from the difference between the models and the migrated database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


class DatabaseNotMigrated(RuntimeError):
    pass


def require_current(url: str) -> None:
    """Refuse to start on a database whose schema is behind the code (run `python app.py db upgrade`)."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    async def read() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            await engine.dispose()

    current_revision = asyncio.run(read())
    if current_revision != head:
        raise DatabaseNotMigrated(
            f"The database is at revision {current_revision or 'none'}, the code needs {head}. "
            "Run `python app.py db upgrade` first."
        )
