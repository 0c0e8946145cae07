"""Generated input against the live service, on every surface anyone outside can reach: signed slash commands,
button presses, form submissions with wrong types and missing fields, unsubscribe links and their forms, export
download links. Over 5,000 requests a run (the budgets below); none may get a server error or log a traceback,
and none that the service refuses may change anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import func, select

from app import build_web_app
from bot import DatabaseInstallationStore
from bot.blocks import (
    ACTION_EDIT,
    ACTION_NEW,
    ACTION_OPEN,
    ACTION_PAUSE,
    ACTION_RESUME,
    ACTION_SEND_NOW,
    ACTION_UNSUBSCRIBE,
)
from bot.installation_store import find_workspace
from bot.modals import CONNECT_CALLBACK, EDIT_CALLBACK
from bot.new_subscription import NEW_CALLBACK
from bot.parsing import CommandError, parse_command
from core import migrations
from core.db import Database
from core.models import ApiKey, AuditEvent, Delivery, ExportedAsset, PostHogConnection, Subscription
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import create_subscription, demo_connection
from core.tokens import unsubscribe_token
from tests.standins.slack_api import SIGNING_SECRET, SlackDriver, SlackStandIn, sign

# A few examples are skipped (an unchanged "tampered" token), so the budgets add up to a little over 5,000.
BUDGETS = {"commands": 1600, "buttons": 1300, "forms": 1200, "unsubscribe": 750, "downloads": 450}
assert sum(BUDGETS.values()) >= 5000 / 0.95
total = [0]  # requests sent by this module's tests, checked by the last one


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


OUR_LOGGERS = ("app", "api", "bot", "core", "exports", "mail", "posthog_api", "render", "scheduler")


class Problems(logging.Handler):
    """Every record carrying a traceback, from any logger, and every error of ours. (Bolt logs an error of its
    own for a request from a workspace that has not installed the app: that refusal is expected.)"""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        ours = record.name.split(".", 1)[0] in OUR_LOGGERS
        if record.exc_info or (ours and record.levelno >= logging.ERROR):
            self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {self.format(r) if r.exc_info else ''}"[:2000] for r in self.records]


@dataclass
class Live:
    base_url: str
    http: aiohttp.ClientSession
    driver: SlackDriver
    db: Database
    settings: Settings
    subscription_ids: set[int]
    problems: Problems
    requests: int = 0
    all_refused: bool = False  # every request of the test was refused: the state must end as it began

    async def state(self) -> str:
        """A fingerprint of everything a request could change."""
        async with self.db.session() as session:
            rows = (await session.execute(select(
                Subscription.id, Subscription.enabled, Subscription.deleted_at, Subscription.email_recipients,
                Subscription.unsubscribed_recipients, Subscription.hour, Subscription.minute, Subscription.timezone,
                Subscription.slack_channel_id, Subscription.content_ref, Subscription.frequency,
            ).order_by(Subscription.id))).all()
            counts = (await session.execute(select(*(
                select(func.count()).select_from(model).scalar_subquery()
                for model in (Subscription, Delivery, PostHogConnection, ExportedAsset, ApiKey, AuditEvent)
            )))).one()
        return hashlib.sha256(repr((rows, tuple(counts))).encode()).hexdigest()

    async def settle(self) -> None:
        """Wait until what an accepted request started after its answer (Slack's ack comes first) is done."""
        previous = await self.state()
        for _ in range(40):
            await asyncio.sleep(0.05)
            current = await self.state()
            if current == previous:
                return
            previous = current

    async def request(self, method: str, path: str, **kwargs) -> int:
        async with self.http.request(method, self.base_url + path, allow_redirects=False, **kwargs) as response:
            await response.read()
        self.requests += 1
        assert response.status < 500, f"server error {response.status} for {method} {path}"
        return response.status

    async def slack(self, body: str) -> int:
        """POST a body to /slack/events, signed as Slack signs it."""
        return await self.request("POST", "/slack/events", data=body.encode(), headers=signed_headers(body))


def signed_headers(body: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(SIGNING_SECRET, body, timestamp)}


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    """A SQLite file of its own: what is fuzzed here is input handling, the same on either database, so these
    tests run once, in the SQLite half of the test command."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def live(db: Database) -> AsyncIterator[Live]:
    slack = await SlackStandIn().start()
    settings_ = Settings(database_url=db.url, slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                         public_url="http://exports.example")
    runner = web.AppRunner(build_web_app(settings_, db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await DatabaseInstallationStore(db).async_save(Installation(
        app_id="A0APP", team_id="T1", team_name="Team T1", user_id="UADMIN", bot_token="xoxb-t1-token",
        bot_id="BT1", bot_user_id="UBOTT1", bot_scopes="commands,chat:write,files:write"))
    slack.add_token("xoxb-t1-token", team_id="T1", bot_user_id="UBOTT1", bot_id="BT1")
    async with db.transaction() as session:
        workspace = await find_workspace(session, "T1")
        connection = await demo_connection(session, workspace.id)
        made = [await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "UTC"), target_type=kind, workspace_id=workspace.id,
            created_by_slack_user="U1", **({"slack_channel_id": "C1"} if kind == "slack"
                                           else {"email_recipients": ["ada@example.com"]}),
        ) for kind in ("slack", "email")]
    problems = Problems()
    logging.getLogger().addHandler(problems)
    try:
        async with aiohttp.ClientSession() as http:
            fuzzing = Live(base_url, http, SlackDriver(base_url, SIGNING_SECRET, slack), db, settings_,
                           {s.id for s in made}, problems)
            before = await fuzzing.state()
            yield fuzzing
            if fuzzing.all_refused:
                await fuzzing.settle()
                assert await fuzzing.state() == before, "refused requests changed something"
            total[0] += fuzzing.requests
    finally:
        logging.getLogger().removeHandler(problems)
        await runner.cleanup()
        await slack.close()
    assert problems.lines() == []


# --- strategies ----------------------------------------------------------------------------------------------

WORDS = ["subscribe", "list", "all", "send", "pause", "resume", "unsubscribe", "export", "exports", "preview",
         "connect", "demo", "projects", "help", "dashboard", "insight", "events", "persons", "cohort", "groups",
         "weekly", "daily", "monthly", "at", "9am", "25:99", "on", "monday", "email", "me", "in", "project", "as",
         "csv", "xlsx", "pdf", "last", "7", "days", "where", "over", "with", "api-key", "create", "revoke", "every",
         "0", "-1", "42", "99999999999999999999", "1e9", "１２", "²", "NaN", "<#C1|general>", "<@U1>",
         "<mailto:a@b.co|a@b.co>", "a@b", "ada@example.com,bob@", "\u202e", "'", '"', "“", "\\", "%", "\x00",
         "<script>alert(1)</script>", "FREQ=WEEKLY;BYDAY=XX", "Europe/Nowhere", "${jndi:x}", " " * 5]
any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
words = st.lists(st.one_of(st.sampled_from(WORDS), any_text), max_size=12).map(" ".join)
ids = st.one_of(st.sampled_from(["T1", "T2", "", "T1\n"]), st.text(max_size=12))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)


def not_a_real_id(live: Live, value: object) -> bool:
    """Whether `value` names none of the real subscriptions (pressing a real one's button is not refused input)."""
    try:
        return int(str(value).strip().lstrip("#")) not in live.subscription_ids
    except ValueError:
        return True


# --- the surfaces ---------------------------------------------------------------------------------------------


@fuzz(BUDGETS["commands"])
@given(text=words, team=ids, user=st.sampled_from(["U1", "U2", "", "W1"]), channel=st.sampled_from(["C1", "", "D1"]))
async def test_slash_commands(live: Live, text: str, team: str, user: str, channel: str) -> None:
    refused = team != "T1"
    try:
        parse_command(text)
    except CommandError:
        refused = True
    before = await live.state() if refused else None
    body = live.driver.command_body(text, team_id=team, user_id=user, channel_id=channel, channel_name="general",
                                    key=f"f{live.requests}")
    await live.slack(body)
    if refused:
        assert await live.state() == before, f"refused command {text!r} changed something"
    else:
        await live.settle()


BUTTONS = [ACTION_SEND_NOW, ACTION_EDIT, ACTION_PAUSE, ACTION_RESUME, ACTION_UNSUBSCRIBE, ACTION_OPEN, ACTION_NEW,
           "subscription_unknown", ""]


@fuzz(BUDGETS["buttons"])
@given(action=st.sampled_from(BUTTONS), value=st.one_of(any_text, st.integers().map(str), json_values),
       team=ids, from_home=st.booleans(), extra=st.dictionaries(st.sampled_from(
           ["container", "view", "channel", "actions", "user", "trigger_id", "response_url"]), json_values,
           max_size=3))
async def test_button_presses(live: Live, action: str, value, team: str, from_home: bool, extra: dict) -> None:
    payload = {
        "type": "block_actions", "team": {"id": team, "domain": "t"}, "user": {"id": "U1", "team_id": team},
        "api_app_id": "A0APP", "trigger_id": "trigger-fuzz",
        "actions": [{"action_id": action, "block_id": "b", "value": value, "type": "button", "action_ts": "1.0"}],
        "container": {"type": "view", "view_id": "VHOME"} if from_home else
        {"type": "message", "channel_id": "C1", "message_ts": "1.0"},
        **extra,
    }
    refused = not_a_real_id(live, value) or team != "T1"
    before = await live.state() if refused else None
    await live.slack(urlencode({"payload": json.dumps(payload)}))
    if refused:
        assert await live.state() == before, f"refused press {payload!r} changed something"
    else:
        await live.settle()


FIELDS = ["target", "channel", "frequency", "interval", "days", "hour", "timezone", "range", "recipients",
          "outside", "host", "project_id", "api_key", "attach", "kind", "ref"]
field_value = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["plain_text_input", "static_select", "multi_users_select",
                                                    "conversations_select", "checkboxes", "timepicker", "x"]),
                           "value": st.one_of(any_text, json_values)}),
    st.fixed_dictionaries({"selected_option": st.one_of(st.none(), json_values)}),
    st.fixed_dictionaries({"selected_users": st.lists(any_text, max_size=3)}),
    json_values,
)


@fuzz(BUDGETS["forms"])
@given(callback=st.sampled_from([EDIT_CALLBACK, CONNECT_CALLBACK, NEW_CALLBACK, "unknown_form"]),
       values=st.dictionaries(st.sampled_from(FIELDS), st.dictionaries(st.sampled_from(["value", "v", ""]),
                              field_value, max_size=2), max_size=8),
       metadata=st.one_of(any_text, json_values.map(json.dumps), st.integers().map(
           lambda n: json.dumps({"subscription_id": n}))),
       team=ids)
async def test_form_submissions(live: Live, callback: str, values: dict, metadata: str, team: str) -> None:
    payload = {
        "type": "view_submission", "team": {"id": team, "domain": "t"}, "user": {"id": "U1", "team_id": team},
        "api_app_id": "A0APP",
        "view": {"id": "VMODAL", "type": "modal", "callback_id": callback, "private_metadata": metadata,
                 "state": {"values": values}},
    }
    await live.slack(urlencode({"payload": json.dumps(payload)}))
    # Generated forms are never complete and valid (a real id, every field right), so each is refused; a connect
    # form could only reach the network checks, which refuse every host generated here. Checked at the end.
    live.all_refused = True


@fuzz(BUDGETS["unsubscribe"])
@given(token=st.one_of(any_text, st.binary(max_size=40).map(lambda b: b.hex()), st.sampled_from(["", ".", ".."])),
       form=st.dictionaries(st.sampled_from(["List-Unsubscribe", "undo", "address", "x"]), any_text, max_size=3),
       method=st.sampled_from(["GET", "POST", "POST undo"]), tamper=st.integers(0, 40))
async def test_unsubscribe_links(live: Live, token: str, form: dict, method: str, tamper: int) -> None:
    if tamper < 10:  # a real token, changed by one character: still refused
        real = unsubscribe_token(sorted(live.subscription_ids), "ada@example.com", settings=live.settings)
        position = tamper % len(real)
        token = real[:position] + random.Random(tamper).choice("AaZz09-_") + real[position + 1:]
        if token == real:
            return
    path = f"/unsubscribe/{quote(token, safe='')}" + ("/undo" if method == "POST undo" else "")
    await live.request("GET", path) if method == "GET" else await live.request("POST", path, data=form)
    live.all_refused = True  # checked once, at the end: every generated link is refused


@fuzz(BUDGETS["downloads"])
@given(token=st.one_of(any_text, st.binary(max_size=60).map(lambda b: b.hex())))
async def test_export_download_links(live: Live, token: str) -> None:
    status = await live.request("GET", f"/exports/download/{quote(token, safe='')}")
    assert status in (400, 404, 410), status


def test_the_run_sent_the_requests_it_promised() -> None:
    assert total[0] >= 5000, total[0]


# --- what the fuzzing found, kept as plain cases ---------------------------------------------------------------


async def test_a_signed_payload_in_a_shape_slack_never_sends_is_refused_with_400(live: Live) -> None:
    for odd in ({"response_url": 7}, {"user": True}, {"view": None}, {"actions": [["x"]]},
                {"team": {"id": ["T1"]}}, {"view": {"state": {"values": {"target": ["x"]}}}}):
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"},
                   "actions": [{"action_id": ACTION_PAUSE, "value": "1"}], **odd}
        assert await live.slack(urlencode({"payload": json.dumps(payload)})) == 400, odd
    assert await live.slack("payload=%7Bnot+json") == 400
    live.all_refused = True


async def test_a_form_whose_fields_have_the_wrong_types_gets_field_errors(live: Live) -> None:
    values = {"target": {"v": {"type": "plain_text_input", "value": ["dashboard", "42"]}},
              "channel": {"v": {"selected_conversation": 42}},
              "timezone": {"v": {"type": "static_select", "selected_option": "UTC"}}}
    payload = {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"},
               "view": {"id": "V1", "type": "modal", "callback_id": NEW_CALLBACK, "private_metadata": "",
                        "state": {"values": values}}}
    async with live.http.post(live.base_url + "/slack/events", data=(body := urlencode(
            {"payload": json.dumps(payload)})).encode(), headers=signed_headers(body)) as response:
        answer = await response.json()
    assert answer["response_action"] == "errors" and {"target", "channel"} <= set(answer["errors"])
    live.all_refused = True
