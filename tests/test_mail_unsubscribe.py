"""Unsubscribing over HTTP, against a real database: confirm, remove one recipient, undo, refuse forgeries."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.db import Database
from core.models import PostHogConnection, Subscription, utcnow
from core.tokens import unsubscribe_token
from mail import add_routes, send_reports
from mail.transports import OutboxTransport
from tests.test_mail_support import insight_report, mail_settings, noise_png

RECIPIENTS = ["ada@example.com", "bob@example.com", "cy@example.com"]
SETTINGS = mail_settings()


async def make_subscription(db: Database, recipients: list[str], title: str = "Weekly signups") -> int:
    async with db.transaction() as session:
        connection = PostHogConnection(name="Acme", host="demo", project_id=1)
        session.add(connection)
        await session.flush()
        subscription = Subscription(
            connection_id=connection.id, content_type="insight", content_ref="ab1", title=title,
            target_type="email", email_recipients=list(recipients), frequency="weekly",
        )
        session.add(subscription)
        await session.flush()
        return subscription.id


async def load(db: Database, subscription_id: int) -> Subscription:
    async with db.session() as session:
        return await session.get(Subscription, subscription_id)


@pytest.fixture
async def client(db: Database):
    app = web.Application()
    add_routes(app, db, settings=SETTINGS)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client


async def test_get_shows_a_confirmation_and_changes_nothing(db, client) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    response = await client.get(f"/unsubscribe/{unsubscribe_token(sid, 'bob@example.com', settings=SETTINGS)}")
    body = await response.text()
    assert response.status == 200
    assert "bob@example.com" in body and "Weekly signups" in body and 'method="post"' in body
    assert response.headers["Cache-Control"] == "no-store"
    assert (await load(db, sid)).email_recipients == RECIPIENTS


def undo_field(page: str) -> dict[str, str]:
    """The hidden field of the page's undo form."""
    return {"undo": re.search(r'name="undo" value="([^"]+)"', page).group(1)}


async def test_post_removes_exactly_one_recipient_and_undo_restores_it(db, client) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    token = unsubscribe_token(sid, "bob@example.com", settings=SETTINGS)

    response = await client.post(f"/unsubscribe/{token}", data={})
    body = await response.text()
    assert response.status == 200 and "You are unsubscribed" in body
    assert f'action="/unsubscribe/{token}/undo"' in body
    undo = undo_field(body)
    subscription = await load(db, sid)
    assert subscription.email_recipients == ["ada@example.com", "cy@example.com"]
    assert subscription.enabled is True

    again = await client.post(f"/unsubscribe/{token}", data={})  # idempotent, and offers no undo
    assert again.status == 200 and 'name="undo"' not in await again.text()
    assert (await load(db, sid)).email_recipients == ["ada@example.com", "cy@example.com"]

    undone = await client.post(f"/unsubscribe/{token}/undo", data=undo)
    assert undone.status == 200 and "subscribed again" in await undone.text()
    assert sorted((await load(db, sid)).email_recipients) == sorted(RECIPIENTS)
    await client.post(f"/unsubscribe/{token}/undo", data=undo)  # idempotent: no duplicate
    assert sorted((await load(db, sid)).email_recipients) == sorted(RECIPIENTS)


async def test_rfc8058_one_click_post(db, client) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    response = await client.post(
        f"/unsubscribe/{unsubscribe_token(sid, 'Ada@Example.com', settings=SETTINGS)}",
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200
    assert (await load(db, sid)).email_recipients == ["bob@example.com", "cy@example.com"]


async def test_one_click_header_of_a_sent_email_works(db, client, tmp_path) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    settings = mail_settings()
    await send_reports([insight_report(sid, "cy@example.com", png=noise_png(20, 20))],
                       transport=OutboxTransport(tmp_path), settings=settings)
    [eml] = list(tmp_path.glob("*.eml"))
    url = re.search(rb"List-Unsubscribe: <([^>]+)>", eml.read_bytes()).group(1).decode()
    path = url.removeprefix(settings.public_url)
    response = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status == 200
    assert (await load(db, sid)).email_recipients == ["ada@example.com", "bob@example.com"]


async def test_a_token_edited_by_one_character_is_refused(db, client) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    token = unsubscribe_token(sid, "bob@example.com", settings=SETTINGS)
    middle = len(token) // 3
    edited = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    for method in ("get", "post"):
        response = await getattr(client, method)(f"/unsubscribe/{edited}")
        body = await response.text()
        assert response.status == 400
        assert "not valid" in body and "Traceback" not in body
    assert (await client.post(f"/unsubscribe/{edited}/undo")).status == 400
    assert (await load(db, sid)).email_recipients == RECIPIENTS


async def test_unknown_subscription_is_404(db, client) -> None:
    response = await client.post(f"/unsubscribe/{unsubscribe_token(999_999, 'bob@example.com', settings=SETTINGS)}")
    assert response.status == 404 and "no longer exists" in await response.text()


async def test_removing_the_last_recipient_disables_the_subscription_and_undo_enables_it(db, client) -> None:
    sid = await make_subscription(db, ["ada@example.com"])
    token = unsubscribe_token(sid, "ada@example.com", settings=SETTINGS)
    response = await client.post(f"/unsubscribe/{token}")
    assert response.status == 200
    subscription = await load(db, sid)
    assert subscription.email_recipients == []
    assert subscription.enabled is False and "unsubscribed" in subscription.paused_reason

    assert (await client.post(f"/unsubscribe/{token}/undo", data=undo_field(await response.text()))).status == 200
    subscription = await load(db, sid)
    assert subscription.email_recipients == ["ada@example.com"]
    assert subscription.enabled is True and subscription.paused_reason is None
    assert subscription.next_delivery_at is not None and subscription.next_delivery_at > utcnow()


async def test_undo_does_not_enable_a_subscription_paused_for_another_reason(db, client) -> None:
    sid = await make_subscription(db, ["ada@example.com"])
    token = unsubscribe_token(sid, "ada@example.com", settings=SETTINGS)
    response = await client.post(f"/unsubscribe/{token}")
    async with db.transaction() as session:
        (await session.get(Subscription, sid)).paused_reason = "Dashboard 42 was not found in project 'Acme'"
    await client.post(f"/unsubscribe/{token}/undo", data=undo_field(await response.text()))
    subscription = await load(db, sid)
    assert subscription.email_recipients == ["ada@example.com"] and subscription.enabled is False


async def test_a_token_for_one_subscription_cannot_unsubscribe_from_another(db, client) -> None:
    a = await make_subscription(db, RECIPIENTS, title="A")
    b = await make_subscription(db, RECIPIENTS, title="B")
    token_a = unsubscribe_token(a, "bob@example.com", settings=SETTINGS)
    # Splice A's signature onto B's payload: refused.
    payload_b = unsubscribe_token(b, "bob@example.com", settings=SETTINGS).split(".")[0]
    assert (await client.post(f"/unsubscribe/{payload_b}.{token_a.split('.')[1]}")).status == 400
    assert (await client.post(f"/unsubscribe/{token_a}")).status == 200
    assert (await load(db, a)).email_recipients == ["ada@example.com", "cy@example.com"]
    assert (await load(db, b)).email_recipients == RECIPIENTS


async def test_digest_token_unsubscribes_from_every_report_in_it(db, client) -> None:
    a = await make_subscription(db, RECIPIENTS, title="A")
    b = await make_subscription(db, RECIPIENTS, title="B")
    c = await make_subscription(db, RECIPIENTS, title="C")
    response = await client.get(f"/unsubscribe/{unsubscribe_token([a, b], 'ada@example.com', settings=SETTINGS)}")
    assert "these 2 reports" in await response.text()
    both = unsubscribe_token([a, b], "ada@example.com", settings=SETTINGS)
    assert (await client.post(f"/unsubscribe/{both}")).status == 200
    assert "ada@example.com" not in (await load(db, a)).email_recipients
    assert "ada@example.com" not in (await load(db, b)).email_recipients
    assert (await load(db, c)).email_recipients == RECIPIENTS


async def test_already_unsubscribed_page(db, client) -> None:
    sid = await make_subscription(db, ["ada@example.com", "bob@example.com"])
    response = await client.get(f"/unsubscribe/{unsubscribe_token(sid, 'zed@example.com', settings=SETTINGS)}")
    assert response.status == 200 and "already unsubscribed" in await response.text()


async def test_an_old_link_cannot_put_back_someone_the_owner_removed(db, client) -> None:
    sid = await make_subscription(db, RECIPIENTS)
    token = unsubscribe_token(sid, "bob@example.com", settings=SETTINGS)  # from an email Bob received before
    async with db.transaction() as session:
        (await session.get(Subscription, sid)).email_recipients = ["ada@example.com", "cy@example.com"]

    assert (await client.post(f"/unsubscribe/{token}/undo")).status == 400
    unsubscribed = await client.post(f"/unsubscribe/{token}")
    assert 'name="undo"' not in await unsubscribed.text()  # nothing was removed, so there is nothing to undo
    forged = {"undo": "e30.AAAA"}
    assert (await client.post(f"/unsubscribe/{token}/undo", data=forged)).status == 400
    assert (await load(db, sid)).email_recipients == ["ada@example.com", "cy@example.com"]


async def test_an_undo_button_expires_after_an_hour(db) -> None:
    from core.tokens import UNDO_SECONDS, read_undo_token, undo_token

    token = undo_token([3], "bob@example.com", now=1_000_000.0, settings=SETTINGS)
    assert read_undo_token(token, now=1_000_000.0 + UNDO_SECONDS - 1, settings=SETTINGS) == ([3], "bob@example.com")
    assert read_undo_token(token, now=1_000_000.0 + UNDO_SECONDS + 1, settings=SETTINGS) is None
    another_purpose = unsubscribe_token(3, "bob@example.com", settings=SETTINGS)
    assert read_undo_token(another_purpose, settings=SETTINGS) is None
