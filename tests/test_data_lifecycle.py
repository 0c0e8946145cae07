"""A workspace's data after it removes the app (kept for UNINSTALL_RETENTION_DAYS, then purged; or purged at once
from the command line), and `secrets rotate`, after which the old key can be dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import func, select, text

from bot.installation_store import find_workspace
from core.crypto import _fernet_for
from core.models import (
    ApiKey,
    AuditEvent,
    Delivery,
    ExportedAsset,
    PostHogConnection,
    SlackInstallation,
    SlackWorkspace,
    Subscription,
    utcnow,
)
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import create_subscription, demo_connection, request_delivery_now
from exports import make_storage
from scheduler.workspaces import purge_uninstalled
from tests.standins.slack_api import start_bot

ROOT = Path(__file__).resolve().parents[1]


def app(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **env}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


async def count(db, model, **where) -> int:
    async with db.session() as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return await session.scalar(statement)


async def workspace_with_data(db, tmp_path: Path, team_id: str) -> tuple[int, Path]:
    """A workspace with a connection, a subscription, a delivery, an API key and an exported file on disk."""
    env = await start_bot(db)
    try:
        await env.install(team_id)
    finally:
        await env.close()
    exported = tmp_path / "exports"
    async with db.transaction() as session:
        workspace = await find_workspace(session, team_id)
        connection = await demo_connection(session, workspace.id)
        subscription = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "UTC"), target_type="slack", slack_channel_id="C1",
            workspace_id=workspace.id, created_by_slack_user="U1",
        )
        await request_delivery_now(session, subscription)
        session.add(ApiKey(workspace_id=workspace.id, name="ci", prefix=f"phe_{team_id}", secret_hash=team_id * 8))
        key = f"{team_id}/report.csv"
        (exported / team_id).mkdir(parents=True)
        (exported / key).write_text("a,b\n1,2\n")
        session.add(ExportedAsset(workspace_id=workspace.id, connection_id=connection.id, content_type="events",
                                  format="csv", status="ready", storage_key=key, request={}))
        return workspace.id, exported / key


async def test_an_uninstalled_workspace_is_purged_after_the_retention_and_others_are_kept(db, tmp_path) -> None:
    gone_id, gone_file = await workspace_with_data(db, tmp_path, "TGONE")
    kept_id, kept_file = await workspace_with_data(db, tmp_path, "TKEPT")
    recent_id, _ = await workspace_with_data(db, tmp_path, "TRECENT")
    async with db.transaction() as session:
        for workspace_id, days_ago in ((gone_id, 31), (recent_id, 29)):
            workspace = await session.get(SlackWorkspace, workspace_id)
            workspace.active, workspace.uninstalled_at = False, utcnow() - timedelta(days=days_ago)

    storage = make_storage(Settings(export_dir=tmp_path / "exports"))
    purged = await purge_uninstalled(db, storage, utcnow(), timedelta(days=30))

    assert [p.team_id for p in purged] == ["TGONE"]
    assert (purged[0].subscriptions, purged[0].connections, purged[0].exported_files) == (1, 1, 1)
    assert not gone_file.exists() and kept_file.exists()
    for model in (Subscription, PostHogConnection, ApiKey, ExportedAsset, SlackInstallation, AuditEvent):
        assert await count(db, model, workspace_id=gone_id) == 0, model.__name__
    assert await count(db, SlackWorkspace, id=gone_id) == 0
    for workspace_id in (kept_id, recent_id):
        assert await count(db, Subscription, workspace_id=workspace_id) == 1
        assert await count(db, AuditEvent, workspace_id=workspace_id) >= 2
    assert await count(db, Delivery) == 2  # the purged workspace's delivery went with its subscription


async def test_purge_from_the_command_line_deletes_one_workspace_now(db, tmp_path) -> None:
    workspace_id, exported = await workspace_with_data(db, tmp_path, "TNOW")
    other_id, _ = await workspace_with_data(db, tmp_path, "TOTHER")
    done = app("workspaces", "purge", "TNOW", database_url=db.url, EXPORT_DIR=str(tmp_path / "exports"))
    assert done.returncode == 0, done.stderr
    assert "Purged TNOW: 1 subscriptions, 1 connections, 1 exported files" in done.stdout
    assert not exported.exists()
    assert await count(db, Subscription, workspace_id=workspace_id) == 0
    assert await count(db, Subscription, workspace_id=other_id) == 1

    unknown = app("workspaces", "purge", "TNOPE", database_url=db.url)
    assert unknown.returncode == 2 and "no workspace TNOPE" in unknown.stdout
    listed = app("workspaces", "list", database_url=db.url)
    assert "TOTHER" in listed.stdout and "TNOW" not in listed.stdout


async def test_secrets_rotate_moves_every_secret_to_the_first_key(db) -> None:
    old_key = os.environ["SECRET_KEY"]
    env = await start_bot(db)
    try:
        await env.install("T1", token="xoxb-rotate-me-token")
    finally:
        await env.close()
    async with db.transaction() as session:
        session.add(PostHogConnection(workspace_id=None, host="https://eu.posthog.com", project_id=3, name="EU",
                                      api_key="phx_rotate_me_key"))

    async def raw() -> list[str]:
        async with db.session() as session:
            return [*(await session.scalars(text("SELECT bot_token FROM slack_installations"))).all(),
                    *(await session.scalars(text("SELECT api_key FROM posthog_connections WHERE api_key IS NOT NULL"
                                                 ))).all()]

    before = await raw()
    rotated = app("secrets", "rotate", database_url=db.url, SECRET_KEY=f"brand-new-key,{old_key}")
    assert rotated.returncode == 0, rotated.stderr
    assert "slack_installations.bot_token: 1 re-encrypted" in rotated.stdout
    assert "posthog_connections.api_key: 1 re-encrypted" in rotated.stdout
    after = await raw()
    assert len(after) == 2 and set(after).isdisjoint(before)
    new, old = _fernet_for("brand-new-key"), _fernet_for(old_key)
    assert sorted(new.decrypt(token.encode()).decode() for token in after) == [
        "phx_rotate_me_key", "xoxb-rotate-me-token"]
    for token in after:
        with pytest.raises(InvalidToken):
            old.decrypt(token.encode())

    # The old key can go: the new one alone reads everything.
    again = app("secrets", "rotate", database_url=db.url, SECRET_KEY="brand-new-key")
    assert again.returncode == 0, again.stderr
    wrong = app("secrets", "rotate", database_url=db.url, SECRET_KEY="some-other-key")
    assert wrong.returncode == 2 and "could not be decrypted" in wrong.stdout
