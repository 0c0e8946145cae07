"""Database engine and sessions (SQLAlchemy 2.0, async).

One engine per process. SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is the production
database and the one that lets many processes share the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

import core.audit  # noqa: F401 - every session records the audit trail of what it changes


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


IDLE_IN_TRANSACTION_TIMEOUT = "60s"


def create_engine(url: str, **kwargs) -> AsyncEngine:
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - runs per connection
            # WAL lets the web process read while the scheduler writes; with WAL, synchronous=NORMAL stays
            # consistent after a crash and spares an fsync per commit. Foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # A transaction left open by a process that stopped mid-way (frozen, or its task abandoned) would hold its
    # locks until the connection closes; PostgreSQL ends it after a minute instead. Nothing here idles that long
    # inside a transaction: network calls happen outside them.
    connect_args = kwargs.pop("connect_args", {})
    server_settings = {"idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION_TIMEOUT,
                       **connect_args.pop("server_settings", {})}
    return create_async_engine(url, pool_pre_ping=True,
                               connect_args={**connect_args, "server_settings": server_settings}, **kwargs)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """The engine and a session factory, created once at start-up and passed to whoever needs them."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


async def empty_tables(database: Database) -> None:
    """Delete every row of every table the models define, keeping the schema and its migration version.

    For throw-away databases: a test run, a benchmark, a demo to start over. On PostgreSQL the tables are
    truncated together and their id sequences restart; on SQLite the rows are deleted children first.
    """
    from core.models import Base  # imported here: the engine and sessions above are usable without the models

    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as connection:
        if is_postgres(database.engine):
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
