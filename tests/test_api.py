"""The REST API over real HTTP, on the whole web application and a real database: keys and scopes, workspace
isolation, errors as problem details, Idempotency-Key, ETag, the rate and body limits, exports and connections,
and the same subscription made through the API, Slack and the command line."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from api import build_registry
from core.models import (
    Delivery,
    ExportedAsset,
    PostHogConnection,
    Share,
    Subscription,
    WelcomeNotice,
)
from core.subscriptions import demo_connection
from exports import run_now
from tests.api_support import start_api
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn

ROOT = Path(__file__).resolve().parent.parent
V1 = "/api/v1"
WEEKLY_TO_ADA = {"content_type": "dashboard", "content_ref": "42", "email_recipients": ["ada@acme.com"],
                 "schedule": "weekly", "timezone": "Europe/London"}


@pytest.fixture
async def env(db):
    env = await start_api(db)
    env.slack.users["UADMIN"] = {"tz": "Europe/London", "name": "ada", "is_admin": True,
                                 "profile": {"email": "ada@acme.com", "real_name": "Ada"}}
    env.slack.users["U1"] = {"tz": "Europe/London", "name": "ben"}
    for team in ("T1", "T2"):
        await env.install(team)
        async with db.transaction() as session:
            await demo_connection(session, env.workspaces[team])
    yield env
    await env.close()


async def rows(db, model) -> list:
    async with db.session() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


def columns(row) -> dict:
    return {c.name: getattr(row, c.key) for c in row.__mapper__.column_attrs for c in [c.columns[0]]}


# --- keys and scopes ------------------------------------------------------------------------------------------


async def test_no_key_a_wrong_key_and_a_malformed_header_are_refused_with_401(env):
    key = await env.key("T1")
    for headers in ({}, {"Authorization": "Bearer phe_" + "x" * 43}, {"Authorization": f"Basic {key}"},
                    {"Authorization": "Bearer"}, {"Authorization": f"Bearer {key[:-1]}"}):
        answer = await env.call("GET", f"{V1}/subscriptions", headers=headers)
        assert answer.status == 401, headers
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.body["status"] == 401 and answer.body["title"] == "Unauthorized"
    assert (await env.call("GET", f"{V1}/subscriptions", key)).status == 200


async def test_a_read_only_key_reads_but_every_write_is_refused_with_403_and_changes_nothing(env, db):
    writer, reader = await env.key("T1"), await env.key("T1", read_only=True)
    made = await env.call("POST", f"{V1}/subscriptions", writer, json_body=WEEKLY_TO_ADA)
    sid = made.body["id"]
    before = [columns(r) for r in await rows(db, Subscription)]
    writes = [op for op in build_registry().operations if op.writes]
    # create, change, delete, pause, resume, send; an export; a connection; make, rotate, revoke a share link
    assert len(writes) == 11
    for op in writes:
        path = V1 + op.path.format(subscription_id=sid, export_id=1, share_id=1)
        answer = await env.call(op.method, path, reader, json_body={} if op.body else None)
        assert answer.status == 403, op.operation_id
        assert "read-only" in answer.body["detail"]
    assert [columns(r) for r in await rows(db, Subscription)] == before
    assert (await env.call("GET", f"{V1}/subscriptions/{sid}", reader)).status == 200


# --- two workspaces -------------------------------------------------------------------------------------------


async def test_every_operation_with_another_workspaces_key_is_refused_as_not_found_and_changes_nothing(env, db):
    """T1's objects, asked for with T2's key: each operation on an object answers 404 exactly as for an id that
    does not exist; lists do not show them; a body naming T1's connection is refused as an unknown one."""
    t1, t2 = await env.key("T1"), await env.key("T2")
    sid = (await env.call("POST", f"{V1}/subscriptions", t1, json_body=WEEKLY_TO_ADA)).body["id"]
    assert (await env.call("POST", f"{V1}/subscriptions/{sid}/deliveries", t1)).status == 202
    export = await env.call("POST", f"{V1}/exports", t1, json_body={"kind": "dashboard", "ref": "42"})
    assert (await run_now(db, env.settings, export.body["id"], worker_id="test")).status == "ready"
    t1_connection = (await env.call("GET", f"{V1}/connections", t1)).body["items"][0]["id"]
    share = await env.call("POST", f"{V1}/shares", t1, json_body={"content_type": "dashboard", "content_ref": "42"})
    assert share.status == 201
    absent = 999_999

    async def snapshot() -> list:
        return [[columns(r) for r in await rows(db, model)]
                for model in (Subscription, Delivery, ExportedAsset, PostHogConnection, WelcomeNotice, Share)]

    before = await snapshot()
    bodies = {"updateSubscription": {"title": "taken over", "email_recipients": ["eve@evil.example"]}}
    checked = set()
    for op in build_registry().operations:
        if not op.path_params:
            continue
        ids = {"subscription_id": sid, "export_id": export.body["id"], "share_id": share.body["id"]}
        theirs = await env.call(op.method, V1 + op.path.format(**ids), t2, json_body=bodies.get(op.operation_id))
        nothing = await env.call(op.method, V1 + op.path.format(subscription_id=absent, export_id=absent,
                                                                share_id=absent), t2,
                                 json_body=bodies.get(op.operation_id))
        assert theirs.status == nothing.status == 404, op.operation_id
        # Indistinguishable: the same answer but for the number asked for.
        assert re.sub(r"\d+", "N", str(theirs.body)) == re.sub(r"\d+", "N", str(nothing.body)), op.operation_id
        checked.add(op.operation_id)

    listed = await env.call("GET", f"{V1}/subscriptions", t2)
    assert listed.status == 200 and listed.body["items"] == []
    shared = await env.call("GET", f"{V1}/shares?include_revoked=true", t2)
    assert shared.status == 200 and shared.body["items"] == []
    connections = await env.call("GET", f"{V1}/connections", t2)
    assert t1_connection not in [c["id"] for c in connections.body["items"]]
    for operation_id, path, body in (
        ("createSubscription", "/subscriptions", {**WEEKLY_TO_ADA, "connection_id": t1_connection}),
        ("createExport", "/exports", {"kind": "dashboard", "ref": "42", "connection_id": t1_connection}),
        ("createShare", "/shares", {"content_type": "dashboard", "content_ref": "42", "connection_id": t1_connection}),
    ):
        theirs = await env.call("POST", V1 + path, t2, json_body=body)
        nothing = await env.call("POST", V1 + path, t2, json_body={**body, "connection_id": absent})
        assert theirs.status == nothing.status == 422, operation_id
        assert theirs.body["detail"].replace(str(t1_connection), "N") == nothing.body["detail"].replace(
            str(absent), "N")
        checked.add(operation_id)
    audit = await env.call("GET", f"{V1}/audit", t2)
    seen = {(e["object_type"], e["object_id"]) for e in audit.body["items"]}  # T2's own changes only
    assert audit.status == 200 and not seen & {("subscription", sid), ("connection", t1_connection),
                                               ("share", share.body["id"])}
    checked |= {"listSubscriptions", "listConnections", "listAudit", "listShares"}
    # The rest neither reads nor names another workspace's objects: a new connection is the caller's own, and a
    # schedule preview touches no object.
    checked |= {"createConnection", "previewSchedule"}
    assert checked == {op.operation_id for op in build_registry().operations}
    assert await snapshot() == before


async def test_an_operator_key_sees_the_command_lines_subscriptions_and_no_workspaces(env, db):
    workspace_key, operator = await env.key("T1"), await env.key(None)
    await env.call("POST", f"{V1}/subscriptions", workspace_key, json_body=WEEKLY_TO_ADA)
    async with db.transaction() as session:
        await demo_connection(session, None)
    mine = await env.call("POST", f"{V1}/subscriptions", operator, json_body=WEEKLY_TO_ADA)
    assert mine.status == 201
    listed = await env.call("GET", f"{V1}/subscriptions", operator)
    assert [s["id"] for s in listed.body["items"]] == [mine.body["id"]]
    slack = await env.call("POST", f"{V1}/subscriptions", operator,
                           json_body={**WEEKLY_TO_ADA, "email_recipients": None, "slack_channel_id": "C0METRICS"})
    assert slack.status == 422 and "belongs to no Slack workspace" in slack.body["detail"]


# --- one service layer: the same row through every door ---------------------------------------------------------

# Columns that differ by nature, not by door: the row's own id and times, and who made it (a Slack user for Slack
# and a key made in Slack; the --owner address, here none, on the command line).
DIFFER_PER_ROW = {"id", "created_at", "updated_at", "created_by_slack_user", "created_by_email"}
# Between scopes (a Slack workspace and the operator's command line) the owner differs too; the connection is then
# compared by what it is (host and project) rather than by id.
DIFFER_PER_SCOPE = {"workspace_id", "connection_id"}


async def test_the_same_subscription_through_the_api_slack_and_the_command_line_gives_identical_rows(env, db):
    await env.driver.command("connect demo", team_id="T1", user_id="UADMIN")
    answer = await env.driver.command("subscribe dashboard 42 weekly email ada@acme.com", user_id="U1")
    assert "Subscribed" in (await answer.wait_later())["text"]
    made = await env.driver.command('api-key create "same rows"', user_id="UADMIN")
    [workspace_key] = re.findall(r"phe_[\w-]{43}", made.text)
    assert (await env.call("POST", f"{V1}/subscriptions", workspace_key, json_body=WEEKLY_TO_ADA)).status == 201
    # Both doors told the new recipient who subscribed them (the command line below sends what is waiting).
    assert len(await rows(db, WelcomeNotice)) == 2

    environment = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"}
    cli = await asyncio.to_thread(subprocess.run, [
        sys.executable, str(ROOT / "app.py"), "subscriptions", "add", "dashboard", "42", "--email", "ada@acme.com",
        "--schedule", "weekly", "--tz", "Europe/London"], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=120)
    assert cli.returncode == 0, cli.stderr
    keyed = await asyncio.to_thread(subprocess.run, [
        sys.executable, str(ROOT / "app.py"), "api-keys", "create", "--name", "same rows"], cwd=ROOT,
        env=environment, capture_output=True, text=True, timeout=120)
    [operator_key] = re.findall(r"phe_[\w-]{43}", keyed.stdout)
    assert (await env.call("POST", f"{V1}/subscriptions", operator_key, json_body=WEEKLY_TO_ADA)).status == 201

    slack_row, api_row, cli_row, operator_api_row = await rows(db, Subscription)
    assert (slack_row.workspace_id, api_row.workspace_id) == (env.workspaces["T1"],) * 2
    assert cli_row.workspace_id is None and operator_api_row.workspace_id is None

    def compared(row, *, leave_out=frozenset()) -> dict:
        return {k: v for k, v in columns(row).items() if k not in DIFFER_PER_ROW | leave_out}

    assert compared(slack_row) == compared(api_row)  # one workspace: everything but id, times and creator
    assert compared(cli_row) == compared(operator_api_row)  # the operator's: the same
    async with db.session() as session:
        connection = {row.id: (c.host, c.project_id) for row in (slack_row, cli_row)
                      for c in [await session.get(PostHogConnection, row.connection_id)]}
    assert connection[slack_row.id] == connection[cli_row.id] == ("demo", 1)
    assert compared(slack_row, leave_out=DIFFER_PER_SCOPE) == compared(cli_row, leave_out=DIFFER_PER_SCOPE)
    # The creator is recorded as each door records it: the Slack user, and for a key the person who made it.
    assert (slack_row.created_by_slack_user, api_row.created_by_slack_user) == ("U1", "UADMIN")
    assert (cli_row.created_by_slack_user, cli_row.created_by_email) == (None, None)
    assert (operator_api_row.created_by_slack_user, operator_api_row.created_by_email) == (None, None)


# --- subscriptions through the API ------------------------------------------------------------------------------


async def test_subscription_lifecycle_over_http(env, db):
    key = await env.key("T1")
    made = await env.call("POST", f"{V1}/subscriptions", key, json_body={
        "content_type": "dashboard", "content_ref": "42", "slack_channel_id": "C0METRICS",
        "schedule": "weekdays at 17:30 over the last 7 days with xlsx", "timezone": "America/New_York"})
    assert made.status == 201, made
    sub = made.body
    assert made.headers["Location"] == f"{V1}/subscriptions/{sub['id']}"
    assert sub["title"] == "Product overview" and sub["schedule"]["summary"] == \
        "every weekday at 17:30 (America/New_York)"
    assert (sub["date_from"], sub["attach_format"]) == ("-7d", "xlsx")
    one = f"{V1}/subscriptions/{sub['id']}"

    paused = await env.call("POST", f"{one}/pause", key)
    assert paused.body["enabled"] is False and "through the API" in paused.body["paused_reason"]
    assert (await env.call("GET", f"{V1}/subscriptions?enabled=false", key)).body["items"][0]["id"] == sub["id"]
    assert (await env.call("GET", f"{V1}/subscriptions?enabled=true", key)).body["items"] == []
    resumed = await env.call("POST", f"{one}/resume", key)
    assert resumed.body["enabled"] is True and resumed.body["paused_reason"] is None

    sent = await env.call("POST", f"{one}/deliveries", key)
    again = await env.call("POST", f"{one}/deliveries", key)
    assert (sent.status, again.status) == (202, 200) and sent.body["id"] == again.body["id"]
    assert sent.body["trigger"] == "manual"

    changed = await env.call("PATCH", one, key, json_body={"schedule": "daily at 8am", "date_range": None})
    assert changed.status == 200
    assert changed.body["schedule"]["summary"] == "every day at 08:00 (America/New_York)"
    assert changed.body["date_from"] is None and changed.body["attach_format"] == "xlsx"

    assert (await env.call("DELETE", one, key)).status == 204
    assert (await env.call("GET", one, key)).status == 404
    assert (await env.call("GET", f"{V1}/subscriptions", key)).body["items"] == []


async def test_mistakes_are_problem_details_naming_each_field(env, db):
    key = await env.key("T1")
    cases = [
        ({**WEEKLY_TO_ADA, "schedule": "fortnightly"}, "body.schedule", "fortnightly"),
        ({**WEEKLY_TO_ADA, "timezone": "Mars/Olympus"}, "body.timezone", "Mars/Olympus"),
        ({**WEEKLY_TO_ADA, "content_ref": "999"}, "body.content_ref", "Dashboard 999 was not found"),
        ({**WEEKLY_TO_ADA, "email_recipients": ["not an address"]}, "body.email_recipients", "not an address"),
        ({**WEEKLY_TO_ADA, "slack_channel_id": "C0METRICS"}, "body.slack_channel_id", "one of them"),
        ({**WEEKLY_TO_ADA, "content_ref": 42}, "body.content_ref", "string"),
        ({**WEEKLY_TO_ADA, "colour": "red"}, "body.colour", "Extra inputs"),
        ({k: v for k, v in WEEKLY_TO_ADA.items() if k != "content_type"}, "body.content_type", "required"),
    ]
    for body, field, words in cases:
        answer = await env.call("POST", f"{V1}/subscriptions", key, json_body=body)
        assert answer.status == 422, body
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert field in [e["field"] for e in answer.body["errors"]], answer.body
        assert words in answer.body["detail"] + str(answer.body["errors"]), answer.body
    bad_json = await env.call("POST", f"{V1}/subscriptions", key, data=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert bad_json.status == 400 and bad_json.body["title"] == "Bad request"
    form = await env.call("POST", f"{V1}/subscriptions", key, data=b"a=b",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415
    query = await env.call("GET", f"{V1}/subscriptions?limit=0&target_type=fax", key)
    assert {e["field"] for e in query.body["errors"]} == {"query.limit", "query.target_type"}
    assert (await env.call("GET", f"{V1}/subscriptions?cursor=bm9wZQ", key)).body["errors"][0]["field"] == \
        "query.cursor"
    assert (await env.call("DELETE", f"{V1}/subscriptions", key)).status == 405
    assert await rows(db, Subscription) == []


async def test_pages_follow_the_cursor_and_filters_apply(env):
    key = await env.key("T1")
    for channel in ("C0AAA", "C0BBB", "C0AAA"):
        body = {**WEEKLY_TO_ADA, "email_recipients": None, "slack_channel_id": channel}
        assert (await env.call("POST", f"{V1}/subscriptions", key, json_body=body)).status == 201
    await env.call("POST", f"{V1}/subscriptions", key, json_body=WEEKLY_TO_ADA)
    seen, url = [], f"{V1}/subscriptions?limit=3"
    while url:
        page = await env.call("GET", url, key)
        seen += [s["id"] for s in page.body["items"]]
        url = page.body["next_cursor"] and f"{V1}/subscriptions?limit=3&cursor={page.body['next_cursor']}"
    assert len(seen) == 4 and seen == sorted(seen)
    aaa = await env.call("GET", f"{V1}/subscriptions?channel=C0AAA", key)
    assert [s["slack_channel_id"] for s in aaa.body["items"]] == ["C0AAA", "C0AAA"]
    email = await env.call("GET", f"{V1}/subscriptions?target_type=email", key)
    assert [s["target_type"] for s in email.body["items"]] == ["email"]


# --- Idempotency-Key, ETag, limits ------------------------------------------------------------------------------


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_object(env, db):
    key = await env.key("T1")
    headers = {"Idempotency-Key": "c0ffee-1"}
    first = await env.call("POST", f"{V1}/subscriptions", key, json_body=WEEKLY_TO_ADA, headers=headers)
    retry = await env.call("POST", f"{V1}/subscriptions", key, json_body=WEEKLY_TO_ADA, headers=headers)
    assert (first.status, retry.status) == (201, 201)
    assert retry.body == first.body and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    assert len(await rows(db, Subscription)) == 1
    other = await env.call("POST", f"{V1}/subscriptions", key, json_body={**WEEKLY_TO_ADA, "schedule": "daily"},
                           headers=headers)
    assert other.status == 422 and other.body["errors"][0]["field"] == "header.Idempotency-Key"
    # Keys belong to one API key: another key's request with the same value is its own.
    second_key = await env.key("T1")
    assert (await env.call("POST", f"{V1}/subscriptions", second_key, json_body=WEEKLY_TO_ADA,
                           headers=headers)).body["id"] != first.body["id"]
    # Ten retries at once still make one object.
    answers = await asyncio.gather(*(env.call("POST", f"{V1}/exports", key, json_body={"kind": "persons"},
                                              headers={"Idempotency-Key": "burst"}) for _ in range(10)))
    assert {a.status for a in answers} <= {202, 409}
    assert len({a.body["id"] for a in answers if a.status == 202}) == 1
    assert len(await rows(db, ExportedAsset)) == 1


async def test_single_objects_carry_an_etag_for_conditional_reads_and_changes(env):
    key = await env.key("T1")
    sub = (await env.call("POST", f"{V1}/subscriptions", key, json_body=WEEKLY_TO_ADA)).body
    one = f"{V1}/subscriptions/{sub['id']}"
    read = await env.call("GET", one, key)
    etag = read.headers["ETag"]
    assert (await env.call("GET", one, key, headers={"If-None-Match": etag})).status == 304
    changed = await env.call("PATCH", one, key, json_body={"title": "Weekly overview"}, headers={"If-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    stale = await env.call("PATCH", one, key, json_body={"title": "Lost update"}, headers={"If-Match": etag})
    assert stale.status == 412
    now = await env.call("GET", one, key, headers={"If-None-Match": etag})
    assert now.status == 200 and now.body["title"] == "Weekly overview"


async def test_a_key_past_its_rate_gets_429_with_retry_after(db):
    env = await start_api(db, api_rate_limit_per_minute=2)  # a burst of 2, then one more every 30 seconds
    try:
        await env.install("T1")
        key, other = await env.key("T1"), await env.key("T1")
        statuses = [(await env.call("GET", f"{V1}/connections", key)).status for _ in range(4)]
        assert statuses == [200, 200, 429, 429]
        limited = await env.call("GET", f"{V1}/connections", key)
        assert limited.body["status"] == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await env.call("GET", f"{V1}/connections", other)).status == 200  # per key
    finally:
        await env.close()


async def test_a_body_past_the_limit_is_refused_with_413(env, db):
    key = await env.key("T1")
    big = {**WEEKLY_TO_ADA, "email_recipients": [f"person{i}@acme.com" for i in range(5000)]}
    answer = await env.call("POST", f"{V1}/subscriptions", key, json_body=big)
    assert answer.status == 413 and answer.headers["Content-Type"].startswith("application/problem+json")
    assert await rows(db, Subscription) == []


# --- exports, connections, schedules ----------------------------------------------------------------------------


async def test_an_export_is_started_followed_and_downloaded_through_its_expiring_link(env):
    key = await env.key("T1")
    started = await env.call("POST", f"{V1}/exports", key, json_body={"kind": "dashboard", "ref": "42",
                                                                     "format": "xlsx"})
    assert started.status == 202 and started.body["status"] == "pending"
    one = f"{V1}/exports/{started.body['id']}"
    waiting = await env.call("GET", f"{one}/download", key)
    assert waiting.status == 409 and "not ready" in waiting.body["detail"]
    await run_now(env.db, env.settings, started.body["id"], worker_id="test")  # a worker's turn
    done = await env.call("GET", one, key)
    assert done.body["status"] == "ready" and done.body["size_bytes"] > 0
    link = await env.call("GET", f"{one}/download", key)
    assert link.status == 200 and link.body["filename"].endswith(".xlsx")
    url = link.body["url"].replace(env.settings.public_url.rstrip("/"), env.base)
    async with env.http.get(url) as response:
        assert response.status == 200 and (await response.read())[:2] == b"PK"  # a workbook is a zip
    refused = await env.call("POST", f"{V1}/exports", key, json_body={"kind": "events", "format": "pdf"})
    assert refused.status == 422 and "PDF" in refused.body["detail"]


async def test_a_connection_is_checked_before_it_is_saved_and_its_key_never_returned(env, db):
    posthog = PostHogStandIn()
    posthog.add_insight(load_fixture("trendsNumber"))
    await posthog.start()
    try:
        key = await env.key("T2")
        wrong = await env.call("POST", f"{V1}/connections", key, json_body={
            "host": posthog.url, "project_id": posthog.project_id, "api_key": "phx_wrong"})
        assert wrong.status == 422 and wrong.body["errors"][0]["field"] == "body.api_key"
        assert len(await rows(db, PostHogConnection)) == 2  # the demo connections only
        made = await env.call("POST", f"{V1}/connections", key, json_body={
            "host": posthog.url, "project_id": posthog.project_id, "api_key": posthog.api_key})
        assert made.status == 201 and made.body["name"] == "Acme"
        listed = await env.call("GET", f"{V1}/connections", key)
        assert posthog.api_key not in str(made.body) + str(listed.body)
        assert "api_key" not in made.body
        async with db.session() as session:
            stored = await session.get(PostHogConnection, made.body["id"])
            raw = await session.scalar(text("SELECT api_key FROM posthog_connections WHERE id = :id"),
                                       {"id": stored.id})
        assert stored.api_key == posthog.api_key and posthog.api_key not in raw  # encrypted at rest
    finally:
        await posthog.stop()


async def test_a_schedule_preview_says_what_the_command_line_prints(env):
    key = await env.key("T1")
    answer = await env.call("GET", f"{V1}/schedules/preview?rule=weekly+on+monday+at+9:00&tz=Europe/London"
                                   "&from=2026-03-20&count=3", key)
    assert answer.status == 200
    printed = await asyncio.to_thread(subprocess.run, [
        sys.executable, str(ROOT / "app.py"), "schedule", "weekly on monday at 9:00", "--tz", "Europe/London",
        "--from", "2026-03-20", "--count", "3"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert printed.stdout.splitlines()[0] == answer.body["summary"] == "every Monday at 09:00 (Europe/London)"
    assert [o["utc"] for o in answer.body["occurrences"]] == [
        "2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z", "2026-04-06T08:00:00Z"]  # London's clocks change
    for occurrence, line in zip(answer.body["occurrences"], printed.stdout.splitlines()[1:], strict=True):
        assert occurrence["utc"][:16].replace("T", " ") + " UTC" in line
    bad = await env.call("GET", f"{V1}/schedules/preview?rule=fortnightly", key)
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "query.rule"


# --- the document and its page ----------------------------------------------------------------------------------


async def test_the_document_and_its_page_are_served_by_us(env):
    document = await env.call("GET", f"{V1}/openapi.json")
    assert document.status == 200 and document.body["openapi"] == "3.1.0"
    operations = {op["operationId"] for path in document.body["paths"].values() for op in path.values()}
    assert operations == {op.operation_id for op in build_registry().operations}
    create = document.body["paths"]["/subscriptions"]["post"]
    assert set(create["responses"]["201"]["links"]) >= {"GetSubscription", "PauseSubscription", "DeleteSubscription"}
    assert create["responses"]["422"]["content"]["application/problem+json"]
    page = await env.call("GET", "/api/docs")
    assert page.status == 200 and "/api/v1/openapi.json" in page.body
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.body)
    assert assets and all(a.startswith("/api/docs/assets/") for a in assets)  # nothing from another host
    for asset in assets:
        assert (await env.call("GET", asset)).status == 200
