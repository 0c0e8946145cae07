"""Alembic environment: runs migrations on the async engine of `core.db`, for SQLite and PostgreSQL alike."""

import asyncio

from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from alembic import context
from core.db import create_engine
from core.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj, autogen_context):
    """Write our column types as the plain types they store, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        literal_binds=connection is None,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


url = config.get_main_option("sqlalchemy.url")
connection = config.attributes.get("connection")
if context.is_offline_mode():
    _configure(url=url)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run_sync(connection)
else:
    asyncio.run(_run_online(url))
