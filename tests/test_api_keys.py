"""API keys from both doors that make them: `/posthog api-key ...` over signed HTTP as Slack sends it, and
`app.py api-keys ...` as a separate process; each key then used against the running API. Keys are kept as hashes,
refused once revoked, and never written to a log."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.logs import make_handler
from core.models import ApiKey
from tests.api_support import start_api

ROOT = Path(__file__).resolve().parent.parent
KEY = re.compile(r"phe_[A-Za-z0-9_-]{43}")


@pytest.fixture
async def env(db):
    env = await start_api(db)
    env.slack.users["UADMIN"] = {"tz": "Europe/London", "name": "ada", "is_admin": True}
    env.slack.users["U1"] = {"tz": "Europe/London", "name": "ben"}
    await env.install("T1")
    yield env
    await env.close()


async def keys_in(db) -> list[ApiKey]:
    async with db.session() as session:
        return list((await session.scalars(select(ApiKey).order_by(ApiKey.id))).all())


# --- Slack ----------------------------------------------------------------------------------------------------


async def test_an_admin_makes_a_key_in_slack_seen_once_by_them_only_and_it_opens_the_api(env, db):
    answer = await env.driver.command('api-key create "reporting notebook"', user_id="UADMIN")
    assert answer.status == 200
    assert answer.json["response_type"] == "ephemeral"
    [secret] = KEY.findall(answer.text)
    assert "not shown again" in answer.text and "/api/v1" in answer.text
    assert env.slack.calls_to("chat.postMessage") == []  # nowhere else but in this ephemeral answer

    [key] = await keys_in(db)
    assert (key.name, key.prefix, key.read_only) == ("reporting notebook", secret[:12], False)
    assert key.created_by_slack_user == "UADMIN" and key.workspace_id == env.workspaces["T1"]
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()

    listed = await env.driver.command("api-key list", user_id="UADMIN")
    assert f"`{secret[:12]}…` *reporting notebook*" in listed.text and "never used" in listed.text
    assert secret not in listed.text

    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 200
    listed = await env.driver.command("api-keys list", user_id="UADMIN")
    assert "last used" in listed.text


async def test_a_key_revoked_in_slack_is_refused_on_its_next_request(env, db):
    made = await env.driver.command("api-key create ci read-only", user_id="UADMIN")
    [secret] = KEY.findall(made.text)
    assert "(read-only)" in made.text
    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 200

    revoked = await env.driver.command(f"api-key revoke {secret[:12]}", user_id="UADMIN")
    assert "Revoked the API key “ci”" in revoked.text
    answer = await env.call("GET", "/api/v1/subscriptions", secret)
    assert answer.status == 401
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert "revoked" in answer.body["detail"]
    assert "no API keys" in (await env.driver.command("api-key list", user_id="UADMIN")).text


async def test_revoking_by_name_and_names_are_unique_among_live_keys(env, db):
    await env.driver.command("api-key create ci", user_id="UADMIN")
    again = await env.driver.command('api-key create "CI"', user_id="UADMIN")
    assert "already exists" in again.text and not KEY.findall(again.text)
    assert "Revoked" in (await env.driver.command("api-key revoke ci", user_id="UADMIN")).text
    # A revoked key's name is free again.
    assert KEY.findall((await env.driver.command("api-key create ci", user_id="UADMIN")).text)
    assert len(await keys_in(db)) == 2


async def test_members_who_are_not_admins_cannot_make_list_or_revoke_keys(env, db):
    made = await env.driver.command("api-key create ci", user_id="UADMIN")
    [secret] = KEY.findall(made.text)
    for command in ("api-key create mine", "api-key list", f"api-key revoke {secret[:12]}"):
        answer = await env.driver.command(command, user_id="U1")
        assert "Only workspace admins can manage API keys" in answer.text, command
        assert not KEY.findall(answer.text)
    assert len(await keys_in(db)) == 1
    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 200


async def test_another_workspaces_admin_cannot_revoke_or_see_this_workspaces_key(env, db):
    await env.install("T2")
    made = await env.driver.command("api-key create ci", user_id="UADMIN")
    [secret] = KEY.findall(made.text)
    other = await env.driver.command(f"api-key revoke {secret[:12]}", team_id="T2", user_id="UADMIN")
    assert "No live API key" in other.text
    assert "no API keys" in (await env.driver.command("api-key list", team_id="T2", user_id="UADMIN")).text
    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 200


MALFORMED = [
    ("api-key", "creates, lists and revokes"),
    ("api-key create", "Give the key a name"),
    ('api-key create ""', "Give the key a name"),
    ("api-key create " + "x" * 101, "at most 100 characters"),
    ("api-key list everything", "takes nothing after it"),
    ("api-key revoke", "Which key?"),
    ("api-key revoke phe_nothing", "No live API key"),
    ("api-key rotate ci", "creates, lists and revokes"),
]


@pytest.mark.parametrize(("command", "expected"), MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_malformed_api_key_commands_get_a_specific_answer_and_make_nothing(env, db, command, expected):
    answer = await env.driver.command(command, user_id="UADMIN")
    assert answer.status == 200
    assert expected in answer.text
    assert await keys_in(db) == []


async def test_help_lists_the_api_key_commands(env):
    answer = await env.driver.command("help")
    assert '/posthog api-key create "reporting notebook"' in answer.text
    assert "/posthog api-key revoke" in answer.text


# --- the command line -----------------------------------------------------------------------------------------


def app(*args: str, db) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


async def test_command_line_makes_lists_and_revokes_keys_of_a_workspace(env, db):
    made = app("api-keys", "create", "--workspace", "T1", "--name", "ci", "--read-only", db=db)
    assert made.returncode == 0, made.stderr
    [secret] = KEY.findall(made.stdout)
    assert "workspace T1" in made.stdout and "(read-only)" in made.stdout

    write = await env.call("POST", "/api/v1/subscriptions/1/pause", secret)
    assert write.status == 403 and "read-only" in write.body["detail"]
    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 200

    listed = app("api-keys", "list", "--workspace", "T1", db=db)
    assert listed.returncode == 0 and f"{secret[:12]}…  ci  (read-only)" in listed.stdout
    assert "last used" in listed.stdout and secret not in listed.stdout
    # The operator's keys are another scope: this workspace's key is not among them.
    assert "No API keys for the operator" in app("api-keys", "list", db=db).stdout

    revoked = app("api-keys", "revoke", "ci", "--workspace", "T1", db=db)
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    assert (await env.call("GET", "/api/v1/subscriptions", secret)).status == 401


async def test_command_line_mistakes_are_named_and_make_nothing(env, db):
    for args, expected in [
        (("api-keys", "create", "--workspace", "T999", "--name", "ci"), "No installed Slack workspace"),
        (("api-keys", "create", "--name", "  "), "Give the key a name"),
        (("api-keys", "revoke", "phe_unknown0"), "No live API key"),
    ]:
        result = app(*args, db=db)
        assert result.returncode == 2, result.stdout
        assert expected in result.stderr and "Traceback" not in result.stderr
    assert await keys_in(db) == []


# --- storage and logs -----------------------------------------------------------------------------------------


async def test_the_database_holds_no_key_in_clear(env, db):
    secrets = [KEY.findall((await env.driver.command(f"api-key create k{i}", user_id="UADMIN")).text)[0]
               for i in range(3)]
    secrets.append(KEY.findall(app("api-keys", "create", "--name", "ops", db=db).stdout)[0])
    for secret in secrets:  # each one used, so that "last used" and any other write happened too
        assert (await env.call("GET", "/api/v1/connections", secret)).status == 200
    async with db.engine.connect() as connection:
        tables = [t for t in (await connection.run_sync(lambda c: c.dialect.get_table_names(c)))]
        dump = []
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
            dump.extend(str(value) for row in rows for value in row)
    everything = "\n".join(dump)
    for secret in secrets:
        assert secret not in everything
        assert secret[12:] not in everything  # not even the part after the shown prefix
        assert hashlib.sha256(secret.encode()).hexdigest() in everything


async def test_keys_never_reach_a_log_line(env, db):
    stream = io.StringIO()
    handler = make_handler(env.settings, stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        made = await env.driver.command("api-key create ci", user_id="UADMIN")
        [secret] = KEY.findall(made.text)
        await env.call("GET", "/api/v1/subscriptions", secret)
        await env.call("GET", "/api/v1/subscriptions", secret + "x")  # a wrong one
        await env.driver.command(f"api-key revoke {secret}", user_id="UADMIN")  # pasted whole, by mistake
        await env.call("GET", "/api/v1/subscriptions", secret)
        logging.getLogger("test").warning("a caller pasted %s into a message", secret)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
    output = stream.getvalue()
    assert "a caller pasted [redacted] into a message" in output  # the handler did see the records
    assert secret not in output and secret[4:] not in output
