"""Schema migrations through Alembic, driven from `python app.py db ...` and from tests."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

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
