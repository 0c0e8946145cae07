"""Emptying the test database between tests (and benchmark runs), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from core.db import Database
from core.models import Base


async def empty_tables(database: Database) -> None:
    async with database.engine.begin() as connection:
        tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
        if database.engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
