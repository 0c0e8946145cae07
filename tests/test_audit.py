"""The audit trail: who changed a subscription, connection or API key, when, through which door and from where,
recorded with the change itself and read back with `app.py audit`."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from core.audit import SYSTEM, Actor, acting_as, trail
from core.models import AuditEvent, PostHogConnection, Subscription
from core.schedule_phrases import parse_schedule
from core.subscriptions import create_subscription, demo_connection, pause
from tests.standins.slack_api import start_bot
from tests.test_bot_isolation import edit_values

ROOT = Path(__file__).resolve().parents[1]


def app(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def events_of(db, subscription_id: int) -> list[AuditEvent]:
    async with db.session() as session:
        return list(reversed(await trail(session, all_workspaces=True, object_type="subscription",
                                         object_id=subscription_id)))


async def test_a_subscription_made_in_slack_edited_in_the_modal_and_paused_from_the_cli(db) -> None:
    env = await start_bot(db)
    try:
        await env.install("T1")
        env.slack.users["U2"] = {"tz": "Europe/London"}  # a colleague in the workspace
        await env.driver.command("connect demo", user_id="U1")
        await (await env.driver.command("subscribe dashboard 42 weekly", user_id="U1")).wait_later()
        async with db.session() as session:
            subscription = await session.scalar(select(Subscription))
        values = edit_values(target="42", channel="C1", hour="07:30", timezone="Asia/Tokyo")
        edited = await env.driver.submit_view("subscription_edit", values, user_id="U2",
                                              private_metadata=json.dumps({"subscription_id": subscription.id}))
        assert edited.status == 200 and edited.body == ""
    finally:
        await env.close()

    paused = app("subscriptions", "pause", str(subscription.id), database_url=db.url)
    assert paused.returncode == 0, paused.stderr

    created, changed, cli_pause = await events_of(db, subscription.id)
    assert (created.action, created.actor, created.door, created.origin) == (
        "created", "slack:U1", "slack", "Slack workspace T1")
    assert created.changes["content_ref"] == [None, "42"] and created.changes["slack_channel_id"] == [None, "C1"]
    assert (changed.action, changed.actor) == ("changed", "slack:U2")
    assert changed.changes["hour"][1] == 7 and changed.changes["minute"] == [0, 30]
    assert changed.changes["timezone"][1] == "Asia/Tokyo"
    assert "content_ref" not in changed.changes  # only what changed
    assert (cli_pause.action, cli_pause.actor, cli_pause.door) == ("paused", f"cli:{getpass.getuser()}", "cli")
    assert cli_pause.origin == socket.gethostname()
    assert cli_pause.changes["enabled"] == [True, False]
    assert created.at <= changed.at <= cli_pause.at
    assert all(e.workspace_id == subscription.workspace_id for e in (created, changed, cli_pause))

    shown = app("audit", "--subscription", str(subscription.id), database_url=db.url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 3  # newest first
    assert f"cli:{getpass.getuser()} from {socket.gethostname()}  subscription {subscription.id} paused" in lines[0]
    assert "slack:U2 from Slack workspace T1" in lines[1] and "timezone: " in lines[1] and "Asia/Tokyo" in lines[1]
    assert f"slack:U1 from Slack workspace T1  subscription {subscription.id} created" in lines[2]

    by_workspace = app("audit", "--workspace", "T1", database_url=db.url)
    assert by_workspace.stdout.count(f"subscription {subscription.id}") == 3
    assert "connection" in by_workspace.stdout  # `/posthog connect demo` made the workspace's connection
    assert app("audit", "--workspace", "T404", database_url=db.url).returncode == 2


async def test_the_schedulers_own_changes_are_the_systems_and_secrets_are_never_recorded(db) -> None:
    async with db.transaction() as session:
        connection = await demo_connection(session)
        subscription = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "UTC"), target_type="email", email_recipients=["ada@example.com"],
        )
    async with db.transaction() as session:
        pause(await session.get(Subscription, subscription.id), "3 deliveries in a row failed")
    with acting_as(Actor("api", "ci (phe_ab12cd)", "203.0.113.7")):
        async with db.transaction() as session:
            stored = PostHogConnection(workspace_id=None, host="https://eu.posthog.com", project_id=7, name="EU",
                                       api_key="phx_first_secret_key_value")
            session.add(stored)
        async with db.transaction() as session:
            (await session.get(PostHogConnection, stored.id)).api_key = "phx_second_secret_key_value"

    *_, system_pause = await events_of(db, subscription.id)
    assert (system_pause.action, system_pause.actor, system_pause.door) == ("paused", SYSTEM.label, "scheduler")
    assert system_pause.changes["paused_reason"][1] == "3 deliveries in a row failed"
    async with db.session() as session:
        made, rotated = list(reversed(await trail(session, object_type="connection", object_id=stored.id)))
    assert (made.actor, made.origin, made.changes["api_key"]) == ("api:ci (phe_ab12cd)", "203.0.113.7", [None, "(set)"])
    assert (rotated.action, rotated.changes) == ("changed", {"api_key": ["(set)", "(changed)"]})
    async with db.session() as session:
        everything = json.dumps([e.changes for e in (await session.scalars(select(AuditEvent))).all()])
    assert "secret_key_value" not in everything


async def test_a_change_rolled_back_leaves_no_record(db) -> None:
    async with db.transaction() as session:
        connection = await demo_connection(session)
    try:
        async with db.transaction() as session:
            await create_subscription(
                session, connection=await session.merge(connection), content_type="insight", content_ref="1003",
                schedule=parse_schedule("daily", "UTC"), target_type="email", email_recipients=["a@example.com"],
            )
            await session.flush()
            raise RuntimeError("the request failed after the flush")
    except RuntimeError:
        pass
    async with db.session() as session:
        assert await trail(session, all_workspaces=True, object_type="subscription") == []


async def test_the_api_records_its_key_and_shows_a_workspace_only_its_own_trail(db) -> None:
    from tests.api_support import start_api
    from tests.test_api import V1, WEEKLY_TO_ADA

    env = await start_api(db)
    try:
        for team in ("T1", "T2"):
            await env.install(team)
            await env.driver.command("connect demo", team_id=team)
        t1, t2 = await env.key("T1", name="ci"), await env.key("T2", name="other")
        made = await env.call("POST", f"{V1}/subscriptions", t1, json_body=WEEKLY_TO_ADA)
        assert made.status == 201, made
        sid = made.body["id"]
        assert (await env.call("POST", f"{V1}/subscriptions/{sid}/pause", t1)).status == 200

        mine = await env.call("GET", f"{V1}/audit?object_type=subscription&object_id={sid}", t1)
        theirs = await env.call("GET", f"{V1}/audit?object_type=subscription", t2)
        paged = await env.call("GET", f"{V1}/audit?limit=1", t1)
        rest = await env.call("GET", f"{V1}/audit?limit=50&cursor={paged.body['next_cursor']}", t1)
    finally:
        await env.close()
    assert mine.status == 200
    paused, created = mine.body["items"]
    assert (created["action"], created["door"], created["origin"]) == ("created", "api", "127.0.0.1")
    assert created["actor"].startswith("api:ci (key #")
    assert paused["action"] == "paused" and paused["changes"]["enabled"] == [True, False]
    assert theirs.body["items"] == []  # T2 sees nothing of T1's
    assert [e["id"] for e in paged.body["items"] + rest.body["items"]] == sorted(
        (e["id"] for e in paged.body["items"] + rest.body["items"]), reverse=True)
    assert len(paged.body["items"]) == 1 and len(rest.body["items"]) >= 3  # T1's connection too
