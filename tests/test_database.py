"""The database connection itself: what the engine asks of PostgreSQL for every connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.db import Database, is_postgres


async def test_postgresql_ends_a_transaction_left_idle_for_a_minute(db: Database) -> None:
    if not is_postgres(db.engine):
        pytest.skip("a PostgreSQL server setting; SQLite has one writer and no server to end a transaction")
    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1min"
