"""A subscription's theme end to end: stored on the subscription (light unless asked), read the same way by every
door (the API, the command line, Slack's New subscription and Edit forms), and the images of its deliveries drawn
on that palette."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.modals import edit_modal, save_edit, validate_edit
from core.models import PostHogConnection, Subscription
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import ThemeError, create_subscription, demo_connection, edit, read_theme
from posthog_api import ContentRef
from render import Renderer
from render.theme import THEMES
from scheduler.content import ContentRenderer
from scheduler.pipeline import content_ref
from tests.api_support import start_api
from tests.standins.slack_api import start_bot

ROOT = Path(__file__).resolve().parent.parent
V1 = "/api/v1"
DARK_BG = PILImage.new("RGB", (1, 1), THEMES["dark"]["bg"]).getpixel((0, 0))
LIGHT_BG = PILImage.new("RGB", (1, 1), THEMES["light"]["bg"]).getpixel((0, 0))
INSIGHT = "1003"  # demo "Signups this week": one number, quick to draw


async def _subscribe(session, **kwargs) -> Subscription:
    connection = await demo_connection(session)
    return await create_subscription(
        session, connection=connection, content_type="insight", content_ref=INSIGHT,
        schedule=parse_schedule("weekly", "UTC"), target_type="email", email_recipients=["ada@example.com"],
        **kwargs,
    )


# --- the rule ------------------------------------------------------------------------------------------------


def test_a_theme_is_light_or_dark_whatever_its_case_and_anything_else_is_named() -> None:
    assert [read_theme(t) for t in ("light", "Dark", " DARK ")] == ["light", "dark", "dark"]
    for bad in ("blue", "", None, 1, ["dark"]):
        with pytest.raises(ThemeError, match="is not a theme: use light or dark"):
            read_theme(bad)


async def test_a_subscription_is_light_unless_asked_and_an_edit_changes_only_a_good_theme(db) -> None:
    async with db.transaction() as session:
        ids = (await _subscribe(session)).id, (await _subscribe(session, theme="Dark")).id
        with pytest.raises(ThemeError, match="“sepia”"):
            await _subscribe(session, theme="sepia")
    async with db.transaction() as session:
        plain, dark = [await session.get(Subscription, i) for i in ids]
        assert (plain.theme, dark.theme) == ("light", "dark")
        with pytest.raises(ThemeError):
            edit(dark, title="Renamed", theme="sepia")
        assert (dark.theme, dark.title) == ("dark", "")  # a bad theme changes nothing, not even the rest
        edit(dark, title="Renamed")
        assert dark.theme == "dark"  # not given: unchanged
        edit(dark, theme="light")
    async with db.session() as session:
        assert (await session.get(Subscription, ids[1])).theme == "light"


# --- the doors -----------------------------------------------------------------------------------------------


async def test_the_api_creates_gets_changes_and_refuses_a_theme(db) -> None:
    env = await start_api(db)
    try:
        key = await env.key()
        async with db.transaction() as session:
            await demo_connection(session)
        body = {"content_type": "dashboard", "content_ref": "42", "email_recipients": ["ada@example.com"],
                "schedule": "weekly"}
        plain = await env.call("POST", f"{V1}/subscriptions", key, json_body=body)
        made = await env.call("POST", f"{V1}/subscriptions", key, json_body={**body, "theme": "dark"})
        assert (plain.status, made.status) == (201, 201), (plain, made)
        assert (plain.body["theme"], made.body["theme"]) == ("light", "dark")
        one = f"{V1}/subscriptions/{made.body['id']}"
        assert (await env.call("GET", one, key)).body["theme"] == "dark"

        renamed = await env.call("PATCH", one, key, json_body={"title": "Weekly"})
        assert renamed.body["theme"] == "dark"  # left out: unchanged
        lighter = await env.call("PATCH", one, key, json_body={"theme": "light"})
        assert lighter.status == 200 and lighter.body["theme"] == "light"

        for answer in (await env.call("POST", f"{V1}/subscriptions", key, json_body={**body, "theme": "sepia"}),
                       await env.call("PATCH", one, key, json_body={"theme": "sepia"})):
            assert answer.status == 422, answer
            assert [e["field"] for e in answer.body["errors"]] == ["body.theme"]
            assert "'light' or 'dark'" in answer.body["errors"][0]["message"]
        assert (await env.call("GET", one, key)).body["theme"] == "light"
        async with db.session() as session:
            assert len((await session.scalars(select(Subscription))).all()) == 2

        document = (await env.call("GET", f"{V1}/openapi.json")).body
        schemas = document["components"]["schemas"]
        assert schemas["SubscriptionCreate"]["properties"]["theme"]["enum"] == ["light", "dark"]
    finally:
        await env.close()


def _app(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def test_the_command_line_adds_a_dark_subscription_and_names_a_bad_theme(db, tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": db.url, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    add = ("subscriptions", "add", "insight", INSIGHT, "--email", "ada@example.com")
    bad = _app(*add, "--theme", "sepia", env=env)
    assert bad.returncode == 2 and "“sepia” is not a theme: use light or dark" in bad.stderr, bad.stderr
    added = _app(*add, "--theme", "Dark", env=env)
    assert added.returncode == 0, added.stderr
    assert "dark images" in added.stdout
    listed = _app("subscriptions", "list", "--json", env=env)
    assert '"theme": "dark"' in listed.stdout
    async with db.session() as session:
        assert [s.theme for s in await session.scalars(select(Subscription))] == ["dark"]


async def test_slacks_edit_form_shows_and_saves_the_theme(db) -> None:
    async with db.transaction() as session:
        subscription = await _subscribe(session, theme="dark")
        form = edit_modal(subscription)
        (field,) = [b for b in form["blocks"] if b.get("block_id") == "theme"]
        assert field["element"]["initial_option"]["value"] == "dark"
        assert [o["value"] for o in field["element"]["options"]] == ["light", "dark"]

        values = {"target": INSIGHT, "recipients": "ada@example.com", "frequency": "weekly", "interval": "1",
                  "days": ["monday"], "time": "09:00", "timezone": "UTC", "range": None}
        errors, _ = validate_edit(subscription, {**values, "theme": "sepia"})
        assert errors == {"theme": "“sepia” is not a theme: use light or dark."}
        errors, schedule = validate_edit(subscription, {**values, "theme": "light"})
        assert errors == {} and schedule is not None
        await save_edit(session, subscription, {**values, "theme": "light"}, schedule, None)
        assert subscription.theme == "light"
        await save_edit(session, subscription, values, schedule, None)  # an older form without the field
        assert subscription.theme == "light"


def _new_form_values(theme: str | None, **fields: str | None) -> dict:
    """What Slack submits from the New subscription form (`theme` None: a form opened before it had the field)."""
    texts = {"target": "insight " + INSIGHT, "schedule": "weekly", "timezone": "UTC", "range": "", **fields}
    values: dict = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in texts.items() if k != "channel"}
    values["channel"] = {"value": {"type": "conversations_select", "selected_conversation": fields.get("channel")}}
    if theme is not None:
        values["theme"] = {"value": {"type": "static_select", "selected_option": {"value": theme}}}
    return values


async def test_slacks_new_subscription_form_asks_for_the_theme_and_creates_with_it(db) -> None:
    env = await start_bot(db)
    try:
        env.slack.users["U1"] = {"tz": "UTC", "name": "ana", "profile": {"email": "ana@example.com"}}
        await env.install("T1", name="Acme")
        await env.driver.command("connect demo")
        await env.driver.command("subscribe")
        [opened] = await env.slack.wait_for(lambda: env.slack.calls_to("views.open"))
        form = opened.params["view"]
        form = json.loads(form) if isinstance(form, str) else form
        (field,) = [b for b in form["blocks"] if b.get("block_id") == "theme"]
        assert [o["value"] for o in field["element"]["options"]] == ["light", "dark"]
        assert field["element"]["initial_option"]["value"] == "light"

        refused = await env.driver.submit_view("subscription_new", _new_form_values("sepia", channel="C1"))
        assert refused.json["errors"] == {"theme": "“sepia” is not a theme: use light or dark."}
        for theme, where in (("dark", {"channel": "C1"}), (None, {"channel": "C1"}),
                             ("dark", {"recipients": "bob@example.com"})):
            done = await env.driver.submit_view("subscription_new", _new_form_values(theme, **where))
            assert done.status == 200 and done.body == "", done.body
    finally:
        await env.close()
    async with db.session() as session:
        made = list(await session.scalars(select(Subscription).order_by(Subscription.id)))
    assert [(s.target_type, s.theme) for s in made] == [("slack", "dark"), ("slack", "light"), ("email", "dark")]


# --- the images ----------------------------------------------------------------------------------------------


def _corner(png: bytes) -> tuple[int, int, int]:
    """The page's background: the top-left pixel sits in the page's padding."""
    return PILImage.open(io.BytesIO(png)).convert("RGB").getpixel((2, 2))


def _demo() -> PostHogConnection:
    return PostHogConnection(id=1, name="Demo project", host="demo", project_id=1)


@pytest.mark.browser
async def test_a_content_ref_with_a_theme_is_drawn_on_that_palette() -> None:
    settings = Settings(render_scale=1.0)
    async with Renderer(settings, pool_size=1) as renderer:
        draw = ContentRenderer(renderer, settings)
        light = await draw(_demo(), ContentRef(1, "insight", INSIGHT))
        dark = await draw(_demo(), ContentRef(1, "insight", INSIGHT, theme="dark"))
    assert [_corner(i.png) for i in light.images] == [LIGHT_BG]
    assert [_corner(i.png) for i in dark.images] == [DARK_BG]


@pytest.mark.browser
async def test_a_dark_subscriptions_delivery_is_drawn_on_the_dark_palette(db) -> None:
    async with db.transaction() as session:
        subscription = await _subscribe(session, theme="dark")
        ref = content_ref(subscription)
        connection = await session.get(PostHogConnection, subscription.connection_id)
    assert ref.theme == "dark"
    settings = Settings(render_scale=1.0)
    async with Renderer(settings, pool_size=1) as renderer:
        rendered = await ContentRenderer(renderer, settings)(connection, ref)
    assert [_corner(i.png) for i in rendered.images] == [DARK_BG]
