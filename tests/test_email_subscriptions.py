"""Email subscriptions through every door: Slack commands signed as Slack signs them, and the command line.

Real parts: the database under test, the Slack stand-in, an aiosmtpd server on loopback, the demo PostHog
project. Images are fixed PNGs (tests/standins/content.py) except in the command-line round trip, which
renders in Chromium as `deliver` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.models import Subscription, WelcomeNotice
from posthog_api import DemoProject
from scheduler.assembly import scheduler_service
from tests.standins.content import FixedImages
from tests.standins.slack_api import _all_text, start_bot
from tests.standins.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def email_settings(smtp: SmtpServer) -> dict:
    return dict(
        email_transport="smtp", smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none",
        email_from="PostHog Reports <reports@exports.example>", public_url="http://exports.example",
        email_allowed_domains="example.com,example.org", email_retry_base_seconds=0.01,
    )


@pytest.fixture
async def env(db, smtp):
    env = await start_bot(db, **email_settings(smtp))
    env.slack.users["U1"] = {"tz": "Europe/London", "name": "ana",
                             "profile": {"email": "ana@example.com", "real_name": "Ana Lytics"}}
    env.slack.users["U2"] = {"tz": "Europe/Berlin", "name": "ben", "profile": {"real_name": "Ben"}}
    env.slack.users["U3"] = {"tz": "UTC", "name": "ada", "is_admin": True, "profile": {"real_name": "Ada"}}
    await env.install("T1", name="Acme")
    await env.driver.command("connect demo")
    yield env
    await env.close()


async def all_subscriptions(db) -> list[Subscription]:
    async with db.session() as session:
        return list((await session.scalars(select(Subscription).order_by(Subscription.id))).all())


async def reply_text(answer) -> str:
    """The ack's text, or, when the ack only said it is looking things up, the later reply's."""
    if "Looking up" in answer.text:
        later = await answer.wait_later()
        return json.dumps(later)
    return answer.text


def inline_images(message) -> int:
    return sum(1 for part in message.walk() if part.get_content_type() == "image/png" and part["Content-ID"])


# --- subscribing and delivering ------------------------------------------------------------------------------


async def test_subscribe_by_email_then_send_now_emails_every_tile_to_every_address(env, db, smtp):
    answer = await env.driver.command(
        "subscribe dashboard 42 weekly email alice@example.com <mailto:bob@example.com|bob@example.com>"
    )
    reply = await reply_text(answer)
    assert "alice@example.com" in reply and "bob@example.com" in reply
    assert "Next deliveries" in reply and "Mon" in reply  # the next three dates
    [subscription] = await all_subscriptions(db)
    assert subscription.target_type == "email"
    assert subscription.email_recipients == ["alice@example.com", "bob@example.com"]
    assert subscription.created_by_slack_user == "U1" and (subscription.frequency, subscription.hour) == ("weekly", 9)

    tiles = len((await DemoProject().get_dashboard(42)).tiles)
    async with scheduler_service(env.settings, db, load_content=FixedImages(env.settings), worker_id="t") as service:
        assert await service.send_welcomes() == 2
        sent = await env.driver.command(f"send {subscription.id}")
        assert "Sending" in sent.text
        assert len(await service.tick()) == 1
        await service.drain()

    for address in ("alice@example.com", "bob@example.com"):
        received = [m.parsed() for m in smtp.messages if m.recipients == [address]]
        welcome, report = received
        assert "subscribed" in welcome["Subject"].lower()
        assert "Ana Lytics in Acme added you" in welcome.get_body(("plain",)).get_content()
        assert subscription.title in report["Subject"]
        assert inline_images(report) == tiles
        assert report["List-Unsubscribe"]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WelcomeNotice)) == 0


async def test_a_date_range_in_the_command_is_stored_and_shown(env, db):
    reply = await reply_text(await env.driver.command(
        "subscribe dashboard 42 weekly over the last 7 days email alice@example.com"))
    assert "Last 7 days" in reply
    [subscription] = await all_subscriptions(db)
    assert (subscription.date_from, subscription.date_to, subscription.frequency) == ("-7d", None, "weekly")
    bad = await reply_text(await env.driver.command("subscribe dashboard 42 weekly over the last fortnight"))
    assert "fortnight" in bad
    assert len(await all_subscriptions(db)) == 1


async def test_a_welcome_that_fails_is_tried_a_few_times_then_dropped_and_never_repeats(env, db, smtp):
    from scheduler.welcomes import MAX_ATTEMPTS, send_welcomes

    smtp.script("gone@example.com", "550 5.1.1 No such user here")
    await reply_text(await env.driver.command(
        "subscribe dashboard 42 weekly email gone@example.com alice@example.com"))
    assert await send_welcomes(db, env.settings) == 1  # alice
    for _ in range(MAX_ATTEMPTS + 2):
        assert await send_welcomes(db, env.settings) == 0
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WelcomeNotice)) == 0
    assert len([m for m in smtp.messages if m.recipients == ["alice@example.com"]]) == 1
    assert smtp.attempts("gone@example.com") == MAX_ATTEMPTS


async def test_email_me_uses_the_address_slack_has_for_the_user(env, db):
    answer = await env.driver.command("subscribe insight dm-pgvw daily at 8am email me carl@example.org")
    await reply_text(answer)
    [subscription] = await all_subscriptions(db)
    assert subscription.email_recipients == ["ana@example.com", "carl@example.org"]
    assert any(c.params.get("user") == "U1" for c in env.slack.calls_to("users.info"))


async def test_email_me_without_an_address_in_slack_says_why_and_creates_nothing(env, db):
    answer = await env.driver.command("subscribe dashboard 42 weekly email me", user_id="U2")
    reply = await reply_text(answer)
    assert "couldn't read your email address" in reply and "users:read.email" in reply
    assert await all_subscriptions(db) == []


MALFORMED = [
    ("subscribe dashboard 42 weekly email alice@evil.test", "may only be emailed to addresses at example.com"),
    ("subscribe dashboard 42 weekly email alice@example.com <mailto:bob@evil.test|bob@evil.test>",
     "bob@evil.test is not"),
    ("subscribe dashboard 42 weekly email", "Who should get it?"),
    ("subscribe dashboard 42 weekly email alice", "“alice” is not an email address"),
    ("subscribe dashboard 42 weekly email alice@", "“alice@” is not an email address"),
    ("subscribe dashboard 42 weekly email @example.com", "“@example.com” is not an email address"),
    ("subscribe dashboard 42 weekly email alice@example", "“alice@example” is not an email address"),
    ("subscribe dashboard 42 weekly email alice@@example.com", "is not an email address"),
    ("subscribe dashboard 42 weekly email alice@example.com,bob", "“bob” is not an email address"),
    ("subscribe dashboard 42 weekly email x y@example.com z", "“x”, “z” are not email addresses"),
    ("subscribe dashboard 42 weekly email " + " ".join(f"u{i}@example.com" for i in range(51)),
     "at most 50 addresses; that is 51"),
    ("subscribe dashboard 42 weekly email <@U2>", "not Slack people or groups"),
    ("subscribe dashboard 42 weekly email <!channel>", "not Slack people or groups"),
    ("subscribe dashboard 42 weekly in <#C1|general> email alice@example.com", "a channel or to email addresses"),
    ("subscribe dashboard 42 email alice@example.com", "How often should I email dashboard 42?"),
    ("subscribe dashboard 42 fortnightly email alice@example.com", "fortnightly"),
    ("subscribe dashboard email alice@example.com", "Which dashboard?"),
    ("subscribe 42 weekly email alice@example.com", "Is 42 a dashboard or an insight?"),
    ("subscribe dashboard 42 weekly email alice@example.com in project 99", "No connected PostHog project"),
    ("subscribe dashboard 999 weekly email alice@example.com", "Dashboard 999 was not found"),
    ("subscribe insight zz-nope weekly email alice@example.com", "zz-nope"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
async def test_malformed_email_subscriptions_are_answered_specifically_and_create_nothing(env, db, text, expected):
    reply = await reply_text(await env.driver.command(text))
    assert expected in reply
    assert await all_subscriptions(db) == []


# --- editing recipients --------------------------------------------------------------------------------------


def email_edit_values(*, recipients: str, members: list[str], target: str = "42") -> dict:
    return {
        "target": {"value": {"type": "plain_text_input", "value": target}},
        "members": {"value": {"type": "multi_users_select", "selected_users": members}},
        "recipients": {"value": {"type": "plain_text_input", "value": recipients}},
        "frequency": {"value": {"type": "static_select", "selected_option": {"value": "weekly"}}},
        "interval": {"value": {"type": "plain_text_input", "value": "1"}},
        "days": {"value": {"type": "multi_static_select", "selected_options": [{"value": "monday"}]}},
        "time": {"value": {"type": "timepicker", "selected_time": "09:00"}},
        "timezone": {"value": {"type": "plain_text_input", "value": "Europe/London"}},
    }


async def test_an_edit_does_not_put_back_someone_who_unsubscribed_unless_the_editor_confirms(env, db):
    from mail.unsubscribe import remove_recipient

    await reply_text(await env.driver.command("subscribe dashboard 42 weekly email alice@example.com bob@example.com"))
    [subscription] = await all_subscriptions(db)
    await remove_recipient(db, [subscription.id], "alice@example.com")  # her email's unsubscribe link
    metadata = json.dumps({"subscription_id": subscription.id})
    values = email_edit_values(recipients="alice@example.com, bob@example.com carl@example.com", members=["U1"])

    warned = await env.driver.submit_view("subscription_edit", values, private_metadata=metadata)
    assert warned.json["response_action"] == "update"
    view = warned.json["view"]
    assert "alice@example.com unsubscribed" in json.dumps(view)
    [unchanged] = await all_subscriptions(db)
    assert unchanged.email_recipients == ["bob@example.com"]

    bad = email_edit_values(recipients="carl@evil.test", members=[])
    refused = await env.driver.submit_view("subscription_edit", bad, private_metadata=view["private_metadata"])
    assert "example.com" in refused.json["errors"]["recipients"]

    saved = await env.driver.submit_view("subscription_edit", values, private_metadata=view["private_metadata"])
    assert saved.status == 200 and saved.body == ""
    [edited] = await all_subscriptions(db)
    assert edited.email_recipients == ["ana@example.com", "alice@example.com", "bob@example.com", "carl@example.com"]
    assert edited.unsubscribed_recipients == []
    async with db.session() as session:
        welcomed = set(await session.scalars(select(WelcomeNotice.address)))
    assert welcomed == {"alice@example.com", "bob@example.com", "ana@example.com", "carl@example.com"}


async def test_a_member_without_an_address_in_slack_is_named_on_the_field(env, db):
    await reply_text(await env.driver.command("subscribe dashboard 42 weekly email alice@example.com"))
    [subscription] = await all_subscriptions(db)
    values = email_edit_values(recipients="alice@example.com", members=["U2"])
    answer = await env.driver.submit_view("subscription_edit", values,
                                          private_metadata=json.dumps({"subscription_id": subscription.id}))
    assert "<@U2>" in answer.json["errors"]["members"]


# --- the New subscription form ------------------------------------------------------------------------------


def new_values(*, target="dashboard 42", channel=None, members=(), recipients="", schedule="daily at 8am",
               timezone="Europe/London", range="") -> dict:
    return {
        "range": {"value": {"type": "plain_text_input", "value": range}},
        "target": {"value": {"type": "plain_text_input", "value": target}},
        "channel": {"value": {"type": "conversations_select", "selected_conversation": channel}},
        "members": {"value": {"type": "multi_users_select", "selected_users": list(members)}},
        "recipients": {"value": {"type": "plain_text_input", "value": recipients}},
        "schedule": {"value": {"type": "plain_text_input", "value": schedule}},
        "timezone": {"value": {"type": "plain_text_input", "value": timezone}},
    }


async def test_subscribe_alone_opens_the_form_and_the_form_subscribes_by_email(env, db):
    answer = await env.driver.command("subscribe")
    assert answer.status == 200
    [opened] = await env.slack.wait_for(lambda: env.slack.calls_to("views.open"))
    form = opened.params["view"]
    form = form if isinstance(form, str) else json.dumps(form)
    assert "subscription_new" in form and "Europe/London" in form  # the user's own zone, from Slack

    done = await env.driver.submit_view("subscription_new", new_values(members=["U1"], recipients="bob@example.com"))
    assert done.status == 200 and done.body == ""
    [subscription] = await all_subscriptions(db)
    assert subscription.target_type == "email" and subscription.email_recipients == ["ana@example.com",
                                                                                      "bob@example.com"]
    assert (subscription.frequency, subscription.hour, subscription.timezone) == ("daily", 8, "Europe/London")
    dm = await env.slack.wait_for(lambda: [c for c in env.slack.calls_to("chat.postMessage")
                                           if c.params.get("channel") == "U1"])
    assert f"subscription #{subscription.id}" in dm[-1].params["text"]


async def test_the_form_from_the_home_tab_subscribes_a_channel(env, db):
    answer = await env.driver.button("subscription_new", "new", from_home=True)
    assert answer.status == 200
    await env.slack.wait_for(lambda: env.slack.calls_to("views.open"))
    done = await env.driver.submit_view("subscription_new", new_values(channel="C1", schedule="weekly",
                                                                       range="last month"))
    assert done.status == 200 and done.body == "", done.body
    [subscription] = await all_subscriptions(db)
    assert (subscription.target_type, subscription.slack_channel_id) == ("slack", "C1")
    assert (subscription.date_from, subscription.date_to) == ("-1mStart", "-1mEnd")


async def test_the_form_shows_each_mistake_on_its_field_and_creates_nothing(env, db):
    both = await env.driver.submit_view("subscription_new", new_values(channel="C1", recipients="bob@example.com"))
    assert "not both" in both.json["errors"]["channel"]
    neither = await env.driver.submit_view("subscription_new", new_values())
    assert "Pick a channel" in neither.json["errors"]["channel"]
    wrong = await env.driver.submit_view("subscription_new", new_values(
        target="42", recipients="bob@evil.test", schedule="fortnightly", timezone="Mars/Olympus", range="lately"))
    assert set(wrong.json["errors"]) == {"target", "recipients", "schedule", "timezone", "range"}
    assert "Is 42 a dashboard or an insight" in wrong.json["errors"]["target"]
    missing = await env.driver.submit_view("subscription_new", new_values(target="dashboard 999", channel="C1"))
    assert "999" in missing.json["errors"]["target"]
    assert await all_subscriptions(db) == []


# --- who sees what -------------------------------------------------------------------------------------------


async def test_private_channel_and_email_subscriptions_are_shown_only_to_who_may_see_them(env, db):
    env.slack.channels["CPRIV"] = {"name": "secret", "is_private": True, "is_member": True, "members": ["U1"]}
    env.slack.channels["CPUB"] = {"name": "metrics", "is_private": False, "is_member": True, "members": ["U1", "U2"]}
    await reply_text(await env.driver.command("subscribe dashboard 42 weekly in <#CPRIV|secret>"))
    await reply_text(await env.driver.command("subscribe dashboard 43 weekly in <#CPUB|metrics>", user_id="U2"))
    await reply_text(await env.driver.command("subscribe dashboard 44 weekly email ana@example.com"))
    private, public, by_email = await all_subscriptions(db)
    assert (private.slack_channel_id, public.slack_channel_id, by_email.target_type) == ("CPRIV", "CPUB", "email")

    def shown(text: str) -> set[int]:
        return {s.id for s in (private, public, by_email) if f"#{s.id}*" in text}

    async def listed(user_id: str) -> str:  # acknowledged at once, the list comes at the response_url
        return _all_text(await (await env.driver.command("list all", user_id=user_id)).wait_later())

    assert shown(await listed("U1")) == {private.id, public.id, by_email.id}
    assert shown(await listed("U2")) == {public.id}
    assert shown(await listed("U3")) == {public.id, by_email.id}

    # The Home tab follows the same rule.
    before = len(env.slack.calls_to("views.publish"))
    await env.driver.event({"type": "app_home_opened", "user": "U2", "tab": "home"})
    await env.slack.wait_for(lambda: len(env.slack.calls_to("views.publish")) > before)
    view = env.slack.calls_to("views.publish")[-1].params["view"]
    view = view if isinstance(view, str) else json.dumps(view)
    assert f"#{public.id} " in view and f"#{private.id} " not in view and f"#{by_email.id} " not in view

    # What cannot be seen cannot be managed either.
    for verb in ("pause", "send", "unsubscribe"):
        answer = await env.driver.command(f"{verb} {private.id}", user_id="U2")
        assert "was not found" in answer.text
    assert (await all_subscriptions(db))[0].enabled


# --- the command line ----------------------------------------------------------------------------------------


def app(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


@pytest.mark.browser
@pytest.mark.slow
async def test_command_line_round_trip(db, smtp):
    env = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING",
           **{k.upper(): str(v) for k, v in email_settings(smtp).items()}}
    added = app("subscriptions", "add", "dashboard", "44", "--email", "ada@example.com", "--schedule",
                "weekly on monday at 9:00", "--tz", "Europe/London", "--range", "last 30 days", env=env)
    assert added.returncode == 0, added.stderr
    assert "every Monday at 09:00" in added.stdout and "ada@example.com" in added.stdout
    assert "date range Last 30 days" in added.stdout
    assert "1 new recipient told by email" in added.stdout
    [listed] = json.loads(app("subscriptions", "list", "--json", env=env).stdout)
    assert (listed["kind"], listed["ref"], listed["recipients"]) == ("dashboard", "44", ["ada@example.com"])
    assert listed["date_from"] == "-30d"

    delivered = app("deliver", str(listed["id"]), env=env)
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    welcome, report = [m.parsed() for m in smtp.messages]
    assert "subscribed" in welcome["Subject"].lower()
    assert inline_images(report) == len((await DemoProject().get_dashboard(44)).tiles)

    removed = app("subscriptions", "remove", str(listed["id"]), env=env)
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert json.loads(app("subscriptions", "list", "--json", env=env).stdout) == []


async def test_command_line_mistakes_get_the_same_messages_and_change_nothing(db, smtp):
    env = {**os.environ, "DATABASE_URL": db.url, **{k.upper(): str(v) for k, v in email_settings(smtp).items()}}
    for args, expected in [
        (["--email", "alice@evil.test"], "may only be emailed to addresses at example.com"),
        (["--email", "alice"], "“alice” is not an email address"),
        (["--email", "a@example.com", "--schedule", "fortnightly"], "fortnightly"),
        (["--email", "a@example.com", "--tz", "Mars/Olympus"], "Mars/Olympus"),
        (["--email", "a@example.com", "--range", "lately"], "lately"),
    ]:
        result = app("subscriptions", "add", "dashboard", "42", *args, env=env)
        assert result.returncode == 2 and expected in result.stderr, (args, result.stderr)
    missing = app("subscriptions", "add", "dashboard", "999", "--email", "a@example.com", env=env)
    assert missing.returncode == 2 and "Dashboard 999 was not found" in missing.stderr
    assert app("subscriptions", "pause", "12345", env=env).returncode == 2
    assert await all_subscriptions(db) == []


# --- the data with every delivery ----------------------------------------------------------------------------


async def test_a_subscription_with_xlsx_or_csv_sends_the_data_beside_the_images(env, db, smtp):
    import io

    from openpyxl import load_workbook

    await reply_text(await env.driver.command("subscribe dashboard 44 weekly with xlsx email alice@example.com"))
    await reply_text(await env.driver.command("subscribe insight 1001 daily with csv in <#C1|general>"))
    by_email, in_slack = await all_subscriptions(db)
    assert (by_email.attach_format, in_slack.attach_format) == ("xlsx", "csv")
    assert by_email.frequency == "weekly" and in_slack.frequency == "daily"

    async with scheduler_service(env.settings, db, load_content=FixedImages(env.settings), worker_id="t") as service:
        for subscription in (by_email, in_slack):
            await env.driver.command(f"send {subscription.id}")
        await service.tick()
        await service.drain()

    [report] = [m.parsed() for m in smtp.messages if "subscribed" not in m.parsed()["Subject"].lower()]
    [workbook] = [part for part in report.iter_attachments() if part.get_filename().endswith(".xlsx")]
    assert load_workbook(io.BytesIO(workbook.get_content()), read_only=True).sheetnames[0] == "Index"
    files = [f for call in env.slack.calls_to("files.completeUploadExternal")
             for f in json.loads(call.params["files"])]
    assert any(f["title"].endswith(".csv") for f in files), files


async def test_an_attachment_that_is_not_a_file_format_is_refused(env, db):
    reply = await reply_text(await env.driver.command("subscribe dashboard 44 weekly with docx email a@example.com"))
    assert "with csv" in reply and "docx" in reply
    assert await all_subscriptions(db) == []
