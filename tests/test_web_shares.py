"""Share links over real HTTP on the whole web application: `/shared/<token>` and `/embedded/<token>` draw the
exporter page, revoked, expired and unknown links are 404 at once, a rotated token works for its grace period, a
password is asked for first, one PostHog fetch serves a thousand visitors, the per-token rate answers 429, and
PostHog's titles and text are shown as text. (tests/test_web_embed.py draws them in Chromium.)"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from core import shares
from core.models import Share, utcnow
from core.subscriptions import demo_connection
from tests import web_support
from tests.standins.posthog_server import PostHogStandIn
from tests.web_support import PAYLOAD_TITLE, get, hostile_dashboard, share_of, standin_connection, start

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def posthog():
    server = PostHogStandIn()
    server.add_dashboard(hostile_dashboard())
    await server.start()
    yield server
    await server.stop()


env = web_support.env  # the service on loopback, per test


# --- the page --------------------------------------------------------------------------------------------------


async def test_a_shared_dashboard_is_the_exporter_page_with_a_strict_policy(env, db):
    made = await share_of(db)
    status, headers, body = await get(env, f"/shared/{made.token}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'id="export-spec"' in body and "/exporter/static/plotly.min.js" in body
    spec = json.loads(re.search(r'<script id="export-spec" type="application/json">(.*?)</script>', body, re.S)[1])
    assert spec["title"] == "Product overview" and len(spec["charts"]) >= 3
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in policy and "http" not in policy.replace("frame-ancestors 'none'", "")
    inline = re.findall(r"<script>(.*?)</script>", body, re.S)
    assert inline and all(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" in policy
                          for s in inline)  # the one inline call that draws, by its hash
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"

    status, headers, _ = await get(env, f"/embedded/{made.token}")
    assert status == 200 and "frame-ancestors *" in headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in headers
    limited = await share_of(db, allowed_origins=["https://intranet.acme.com", "http://127.0.0.1:9999"])
    _, headers, _ = await get(env, f"/embedded/{limited.token}")
    assert "frame-ancestors https://intranet.acme.com http://127.0.0.1:9999;" in \
        headers["Content-Security-Policy"] + ";"

    status, headers, _ = await get(env, f"/shared/{made.token}?theme=dark")
    assert status == 200


async def test_the_json_variant_is_the_normalized_content_without_links_into_posthog(env, db):
    made = await share_of(db)
    status, headers, body = await get(env, f"/shared/{made.token}.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert data["type"] == "dashboard" and data["dashboard"]["name"] == "Product overview"
    assert len(data["dashboard"]["tiles"]) >= 3 and '"url"' not in body


# --- revoke, rotate, expire ------------------------------------------------------------------------------------


async def test_revoking_answers_404_at_once_even_with_the_content_cached(env, db):
    made = await share_of(db)
    for path in (f"/shared/{made.token}", f"/embedded/{made.token}", f"/shared/{made.token}.json"):
        assert (await get(env, path))[0] == 200
    async with db.transaction() as session:
        shares.revoke(await session.get(Share, made.share.id))
    for path in (f"/shared/{made.token}", f"/embedded/{made.token}", f"/shared/{made.token}.json"):
        status, headers, body = await get(env, path)
        assert status == 404 and "does not work" in body and "export-spec" not in body, path
    for path in ("/shared/unknown-token-of-some-length", "/shared/short", "/embedded/x/y", "/shared/"):
        assert (await get(env, path))[0] == 404, path


async def test_a_rotated_token_works_for_the_grace_period_then_not(env, db):
    made = await share_of(db)
    async with db.transaction() as session:
        rotated = shares.rotate(await session.get(Share, made.share.id),
                                grace_seconds=env.settings.share_rotation_grace_seconds)
    assert (await get(env, f"/shared/{rotated.token}"))[0] == 200
    assert (await get(env, f"/shared/{made.token}"))[0] == 200  # within the grace period
    async with db.transaction() as session:  # the grace period ends
        await session.execute(update(Share).where(Share.id == made.share.id)
                              .values(previous_valid_until=utcnow() - timedelta(seconds=1)))
    assert (await get(env, f"/shared/{made.token}"))[0] == 404
    assert (await get(env, f"/shared/{rotated.token}"))[0] == 200


async def test_an_expired_link_is_404(env, db):
    made = await share_of(db, expires_at=utcnow() + timedelta(hours=1))
    assert (await get(env, f"/shared/{made.token}"))[0] == 200
    async with db.transaction() as session:
        await session.execute(update(Share).where(Share.id == made.share.id)
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await get(env, f"/shared/{made.token}"))[0] == 404
    assert (await get(env, f"/embedded/{made.token}"))[0] == 404


# --- password --------------------------------------------------------------------------------------------------


async def test_a_password_protected_link_asks_first_and_refuses_a_wrong_one(env, db):
    made = await share_of(db, password="correct horse")
    other = await share_of(db, password="correct horse")
    page = f"/shared/{made.token}"
    status, _, body = await get(env, page)
    assert status == 401 and 'type="password"' in body and "export-spec" not in body
    assert (await get(env, page + ".json"))[0] == 401
    async with env.http.post(env.base + page, data={"password": "wrong"}, allow_redirects=False) as response:
        assert response.status == 401 and "not right" in await response.text()
        assert not response.cookies
    async with env.http.post(env.base + page, data={"password": "correct horse"}, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == page
        cookies = response.headers.getall("Set-Cookie")
    assert len(cookies) == 4 and all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    assert {re.search(r"Path=([^;]+)", c)[1] for c in cookies} == {page, page + ".json", page + ".png", page + ".csv"}
    name, _, signed = cookies[0].split(";")[0].partition("=")
    given = {"Cookie": f"{name}={signed}"}  # as a browser sends it back (aiohttp's jar keeps none for an IP)
    status, _, body = await get(env, page, headers=given)
    assert status == 200 and "export-spec" in body
    assert (await get(env, page + ".json", headers=given))[0] == 200
    # The cookie opens this share only: not another one with the same password, not under another name.
    stolen = {"Cookie": f"share_access_{other.share.id}={signed}"}
    assert (await get(env, f"/shared/{other.token}", headers=stolen))[0] == 401


async def test_over_https_an_embeds_password_cookie_is_sent_inside_other_sites_iframes(db):
    env = await start(db, public_url="https://exports.acme.com")
    try:
        made = await share_of(db, password="correct horse")
        given = {}
        for kind in ("embedded", "shared"):
            async with env.http.post(f"{env.base}/{kind}/{made.token}", data={"password": "correct horse"},
                                     allow_redirects=False) as response:
                assert response.status == 303
                given[kind] = response.headers.getall("Set-Cookie")
        assert all("SameSite=None" in c and "Secure" in c and "Partitioned" in c for c in given["embedded"])
        assert all("SameSite=Lax" in c and "Secure" in c and "Partitioned" not in c for c in given["shared"])
    finally:
        await env.close()


# --- PostHog is asked once -------------------------------------------------------------------------------------


async def test_a_thousand_anonymous_requests_cause_one_posthog_fetch(db, posthog):
    env = await start(db, share_requests_per_minute=100_000)
    try:
        connection = await standin_connection(db, posthog)
        made = await share_of(db, connection, ref="7")
        path = f"/shared/{made.token}"
        answers = await asyncio.gather(*(get(env, path) for _ in range(100)))  # all at once on a cold cache
        assert {status for status, _, _ in answers} == {200}
        fetched = list(posthog.requests)
        assert len(posthog.requests_to(posthog.dashboard_path(7))) == 1
        for _ in range(9):
            answers = await asyncio.gather(*(get(env, path) for _ in range(100)))
            assert {status for status, _, _ in answers} == {200}
        assert posthog.requests == fetched  # 1,000 requests, one fetch
    finally:
        await env.close()


async def test_the_per_token_rate_answers_429_with_retry_after(db):
    env = await start(db, share_requests_per_minute=3)
    try:
        made, other = await share_of(db), await share_of(db)
        for _ in range(3):
            assert (await get(env, f"/shared/{made.token}"))[0] == 200
        status, headers, body = await get(env, f"/shared/{made.token}")
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60 and "busy" in body
        assert (await get(env, f"/shared/{other.token}"))[0] == 200  # another link has its own budget
    finally:
        await env.close()


# --- PostHog's words are text ----------------------------------------------------------------------------------


async def test_script_and_html_in_titles_and_text_tiles_are_served_as_text(db, posthog, env):
    connection = await standin_connection(db, posthog)
    made = await share_of(db, connection, ref="7")
    for path in (f"/shared/{made.token}", f"/embedded/{made.token}"):
        status, _, body = await get(env, path)
        assert status == 200
        for raw in ("<img src=x", "<script>window.__pwned", "<b onmouseover", "<i>desc"):
            assert raw not in body, (path, raw)
        spec = json.loads(re.search(r'<script id="export-spec" type="application/json">(.*?)</script>', body,
                                    re.S)[1])
        assert "&lt;img src=x onerror=" in spec["html"] and "&lt;script&gt;window.__pwned=2" in spec["html"]
        assert spec["title"] == f"{PAYLOAD_TITLE} dashboard"  # drawn as document.title: text
        assert "<title>&lt;img src=x" in body
    status, _, body = await get(env, f"/shared/{made.token}.json")
    assert status == 200 and json.loads(body)["dashboard"]["name"] == f"{PAYLOAD_TITLE} dashboard"


# --- the API door ----------------------------------------------------------------------------------------------


async def test_the_api_makes_rotates_and_revokes_a_link_that_the_pages_honour(env, db):
    async with db.transaction() as session:
        await demo_connection(session, None)
    key = await env.key(None)
    made = await env.call("POST", "/api/v1/shares", key, json_body={
        "content_type": "dashboard", "content_ref": "42", "password": "pw-of-the-team",
        "allowed_origins": ["https://intranet.acme.com/"]})
    assert made.status == 201 and made.body["title"] == "Product overview" and made.body["has_password"]
    assert made.body["allowed_origins"] == ["https://intranet.acme.com"] and "password" not in made.body
    assert made.body["url"] == f"{env.settings.public_url}/shared/{made.body['token']}"
    assert f'src="{made.body["embed_url"]}"' in made.body["embed_code"]
    token = made.body["token"]
    assert (await get(env, f"/shared/{token}"))[0] == 401  # the password first
    sid = made.body["id"]
    got = await env.call("GET", f"/api/v1/shares/{sid}", key)
    assert got.status == 200 and "token" not in got.body and got.body["state"] == "active"
    rotated = await env.call("POST", f"/api/v1/shares/{sid}/rotate", key)
    assert rotated.status == 200 and rotated.body["token"] != token
    assert rotated.body["previous_token_valid_until"] is not None
    async with env.http.post(f"{env.base}/shared/{token}", data={"password": "pw-of-the-team"},
                             allow_redirects=False) as response:
        assert response.status == 303  # the old token still opens within the grace period
    revoked = await env.call("POST", f"/api/v1/shares/{sid}/revoke", key)
    assert revoked.status == 200 and revoked.body["state"] == "revoked"
    for t in (token, rotated.body["token"]):
        assert (await get(env, f"/shared/{t}"))[0] == 404
    assert (await env.call("POST", f"/api/v1/shares/{sid}/rotate", key)).status == 409
    listed = await env.call("GET", "/api/v1/shares", key)
    assert listed.body["items"] == []
    listed = await env.call("GET", "/api/v1/shares?include_revoked=true", key)
    assert [s["id"] for s in listed.body["items"]] == [sid]
    bad = await env.call("POST", "/api/v1/shares", key, json_body={
        "content_type": "dashboard", "content_ref": "42", "allowed_origins": ["https://acme.com; script-src *"]})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "body.allowed_origins"
    missing = await env.call("POST", "/api/v1/shares", key, json_body={"content_type": "dashboard",
                                                                      "content_ref": "999"})
    assert missing.status == 422 and missing.body["errors"][0]["field"] == "body.content_ref"


# --- the command line ------------------------------------------------------------------------------------------


def command(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "PUBLIC_URL": "http://share.test"}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "shares", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
async def test_the_command_line_makes_lists_rotates_and_revokes_a_link(env, db):
    run = functools.partial(asyncio.to_thread, command, database_url=db.url)
    made = await run("create", "dashboard", "42", "--origin", "https://intranet.acme.com", "--expires-days", "30")
    assert made.returncode == 0, made.stderr
    token = re.search(r"http://share\.test/shared/([A-Za-z0-9_-]{43})", made.stdout)[1]
    assert "<iframe src=\"http://share.test/embedded/" in made.stdout and "Product overview" in made.stdout
    assert (await get(env, f"/shared/{token}"))[0] == 200
    listed = json.loads((await run("list", "--json")).stdout)
    assert [(s["kind"], s["ref"], s["state"], s["allowed_origins"]) for s in listed] == [
        ("dashboard", "42", "active", ["https://intranet.acme.com"])]
    sid = str(listed[0]["id"])
    rotated = await run("rotate", sid)
    assert rotated.returncode == 0 and token not in rotated.stdout
    new = re.search(r"/shared/([A-Za-z0-9_-]{43})", rotated.stdout)[1]
    assert (await get(env, f"/shared/{new}"))[0] == 200 and (await get(env, f"/shared/{token}"))[0] == 200
    revoked = await run("revoke", sid)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert (await get(env, f"/shared/{new}"))[0] == 404 and (await get(env, f"/shared/{token}"))[0] == 404
    refused = await run("create", "dashboard", "42", "--origin", "intranet.acme.com")
    assert refused.returncode == 2 and "not an origin" in refused.stderr
    assert (await run("revoke", "999")).returncode == 2


# --- Slack -----------------------------------------------------------------------------------------------------


async def test_slack_shares_a_dashboard_with_its_embed_code_and_a_revoke_button(env, db):
    env.slack.users["U1"] = {"tz": "Europe/London", "name": "ana"}
    env.slack.users["U2"] = {"tz": "Europe/London", "name": "ben"}
    await env.install("T1")
    await env.driver.command("connect demo", team_id="T1", user_id="U1")
    answer = await env.driver.command("share dashboard 42", team_id="T1", user_id="U1")
    assert answer.status == 200 and "Making a share link" in answer.text
    message = await answer.wait_later()
    assert message["response_type"] == "ephemeral"
    shown = json.dumps(message)
    token = re.search(r"/shared/([A-Za-z0-9_-]{43})", shown)[1]
    assert f"/embedded/{token}" in shown and "iframe" in shown and "Product overview" in shown
    (revoke,) = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert revoke["action_id"] == "share_revoke" and "confirm" in revoke
    assert (await get(env, f"/shared/{token}"))[0] == 200

    listed = await env.driver.command("shares", team_id="T1", user_id="U2")
    assert "Product overview" in listed.text and token not in listed.text
    other = await env.driver.button("share_revoke", revoke["value"], team_id="T1", user_id="U2")
    assert "Only whoever made" in (await other.wait_later())["text"]  # not the creator, not an admin
    assert (await get(env, f"/shared/{token}"))[0] == 200
    pressed = await env.driver.button("share_revoke", revoke["value"], team_id="T1", user_id="U1")
    assert "Revoked share link" in (await pressed.wait_later())["text"]
    assert (await get(env, f"/shared/{token}"))[0] == 404

    await env.install("T2")
    elsewhere = await env.driver.button("share_revoke", revoke["value"], team_id="T2", user_id="U1")
    assert "was not found" in (await elsewhere.wait_later())["text"]
    wrong = await env.driver.command("share 42", team_id="T1", user_id="U1")
    assert "dashboard or an insight" in wrong.text
