"""`/view/insight/<id>` and `/view/dashboard/<id>` behind Sign in with Slack (OpenID Connect against the Slack
stand-in): no session goes to Slack's authorize page and comes back to the page; a member of another workspace
gets 404; the state is checked; the session cookie is HttpOnly and SameSite=Lax (Secure with an https
PUBLIC_URL); sign-out ends it. In real headless Chromium and over plain HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests import web_support
from tests.web_support import get, member_workspace, start, start_with_signin

READY_SECONDS = 60
browser = web_support.browser  # one Chromium for the module


@pytest.fixture
async def env(db):
    env = await start_with_signin(db)
    yield env
    await env.close()


def cookie_of(headers, name: str) -> str | None:
    for line in headers.getall("Set-Cookie", []):
        if line.startswith(name + "="):
            return line
    return None


async def sign_in(env, path: str) -> tuple[dict[str, str], str, int, str]:
    """Follows the redirects as a browser would (carrying cookies by hand: aiohttp's jar keeps none for an IP);
    returns the cookies set on the way, the final address, its status and page."""
    cookies: dict[str, str] = {}
    url = env.base + path
    for _ in range(6):
        header = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        async with env.http.get(url, allow_redirects=False, headers=header) as response:
            for line in response.headers.getall("Set-Cookie", []):
                name, _, rest = line.partition("=")
                cookies[name] = rest.split(";")[0]
            if response.status not in (302, 303):
                return cookies, url, response.status, await response.text()
            url = response.headers["Location"]
            url = url if url.startswith("http") else env.base + url
    raise AssertionError("too many redirects")


# --- over HTTP ---------------------------------------------------------------------------------------------------


async def test_without_a_session_the_viewer_sends_you_to_slack_with_a_state_it_then_checks(env):
    await member_workspace(env, "T1")
    status, headers, _ = await get(env, "/view/dashboard/42?theme=dark")
    assert status == 302
    target = urlsplit(headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == env.slack.openid_authorize_url
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["client_id"] == "111.222" and query["response_type"] == "code" and "openid" in query["scope"]
    assert query["redirect_uri"] == f"{env.base}/signin/callback" and len(query["state"]) >= 20
    state_cookie = cookie_of(headers, "posthog_exports_signin")
    assert "HttpOnly" in state_cookie and "SameSite=Lax" in state_cookie and "Secure" not in state_cookie

    # A callback this browser did not start (no cookie, or another state) is refused, and no session is made.
    for cookie, state in ((None, query["state"]), (state_cookie.split(";")[0], "another-state-of-some-length")):
        status, headers, body = await get(env, f"/signin/callback?code=x&state={state}",
                                          headers={"Cookie": cookie} if cookie else {})
        assert status == 400 and "not started here" in body and cookie_of(headers, "posthog_exports_session") is None
    assert env.slack.calls_to("openid.connect.token") == []


async def test_a_member_signs_in_and_sees_the_dashboard_and_another_workspace_gets_404(env):
    await member_workspace(env, "T1")
    await member_workspace(env, "T2", with_demo=False)  # installed, but has no PostHog project of its own
    env.slack.sign_in_as("T1", "U1", "Ana")
    cookies, landed, _, _ = await sign_in(env, "/view/dashboard/42?theme=dark")
    assert landed == f"{env.base}/view/dashboard/42?theme=dark"
    session = {"Cookie": f"posthog_exports_session={cookies['posthog_exports_session']}"}
    status, headers, body = await get(env, "/view/dashboard/42?theme=dark", headers=session)
    assert status == 200 and 'id="export-spec"' in body and "Product overview" in body
    assert '"theme": "dark"' in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    (token_call,) = env.slack.calls_to("openid.connect.token")
    assert token_call.params["redirect_uri"] == f"{env.base}/signin/callback"

    assert (await get(env, "/view/dashboard/999999", headers=session))[0] == 404
    for bad in ("/view/dashboard/abc", "/view/report/42", "/view/dashboard/42/x", "/view/"):
        assert (await get(env, bad, headers=session))[0] == 404, bad
    status, _, body = await get(env, "/view/dashboard/42?width=9", headers=session)
    assert status == 400 and "width must be a whole number" in body

    for team in ("T2", "T9"):  # another workspace's member; someone whose workspace never installed the app
        env.slack.sign_in_as(team, "U7")
        cookies, _, _, _ = await sign_in(env, "/view/dashboard/42")
        other = {"Cookie": f"posthog_exports_session={cookies['posthog_exports_session']}"}
        status, _, body = await get(env, "/view/dashboard/42", headers=other)
        assert status == 404 and "export-spec" not in body and "was not found" in body, team

    status, headers, _ = await get(env, "/signout", headers=session)
    assert status == 303 and "Max-Age=0" in cookie_of(headers, "posthog_exports_session")
    forged = {"Cookie": "posthog_exports_session=" + json.dumps({"team": "T1"}).replace(" ", "")}
    assert (await get(env, "/view/dashboard/42", headers=forged))[0] == 302  # not signed by us: no session


async def test_a_refused_sign_in_and_slack_errors_are_plain_pages_and_next_stays_on_this_site(env):
    await member_workspace(env, "T1")
    env.slack.openid_identity = None  # the person cancels at Slack
    cookies, _, status, body = await sign_in(env, "/view/dashboard/42")
    assert status == 400 and "did not sign you in" in body and "posthog_exports_session" not in cookies
    env.slack.sign_in_as("T1", "U1")
    env.slack.script("openid.connect.token", {"ok": False, "error": "invalid_client"})
    cookies, _, status, body = await sign_in(env, "/view/dashboard/42")
    assert status == 502 and "could not confirm" in body and "posthog_exports_session" not in cookies
    for bad in ("//evil.example/x", "https://evil.example/", "/%0d%0aSet-Cookie:%20x=1", "/\\evil.example"):
        cookies, landed, status, _ = await sign_in(env, f"/signin?next={bad}")
        assert landed == env.base + "/" and status == 200 and "posthog_exports_session" in cookies, bad


async def test_an_https_public_url_makes_the_cookies_secure_and_no_slack_app_says_so(db):
    env = await start(db, slack_client_id="111.222", slack_client_secret="s", public_url="https://exports.acme.com")
    try:
        status, headers, _ = await get(env, "/view/insight/abc123XY")
        assert status == 302
        assert parse_qs(urlsplit(headers["Location"]).query)["redirect_uri"] == [
            "https://exports.acme.com/signin/callback"]
        assert "Secure" in cookie_of(headers, "posthog_exports_signin")
    finally:
        await env.close()
    env = await start(db)  # no Slack app: nothing to sign in with
    try:
        status, _, body = await get(env, "/view/dashboard/42")
        assert status == 503 and "not set up" in body
    finally:
        await env.close()


# --- in Chromium -------------------------------------------------------------------------------------------------


def open_view(driver, url: str) -> tuple[str, object, int]:
    driver.delete_all_cookies()
    driver.get(url)
    flag = WebDriverWait(driver, READY_SECONDS, poll_frequency=0.05).until(
        lambda d: d.execute_script("return window.__exportReady || document.title === 'Not found' || null"))
    tiles = driver.execute_script("return document.querySelectorAll('#export-root [data-tile]').length")
    return driver.current_url, flag, tiles


@pytest.mark.browser
async def test_in_chromium_view_dashboard_42_signs_in_with_slack_then_draws(browser, env):
    await member_workspace(env, "T1")
    await member_workspace(env, "T2", with_demo=False)
    env.slack.sign_in_as("T1", "U1", "Ana")
    where, flag, tiles = await asyncio.to_thread(open_view, browser, env.base + "/view/dashboard/42")
    assert where == env.base + "/view/dashboard/42"
    assert flag is True and tiles >= 3
    assert [c.method for c in env.slack.calls if c.method.startswith("openid")] == [
        "openid.authorize", "openid.connect.token", "openid.connect.userInfo"]
    session = browser.get_cookie("posthog_exports_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"

    env.slack.sign_in_as("T2", "U9")
    where, flag, tiles = await asyncio.to_thread(open_view, browser, env.base + "/view/dashboard/42")
    assert flag is True and tiles == 0  # the "not found" page (its title), and no dashboard
    assert re.search(r"was not found", browser.page_source)


async def test_a_members_new_images_count_as_previews_and_a_cached_one_does_not(db):
    env = await start_with_signin(db, rate_limits_per_user={"preview": 1})
    try:
        await member_workspace(env, "T1")
        env.slack.sign_in_as("T1", "U1")
        cookies, _, _, _ = await sign_in(env, "/view/insight/1001")
        session = {"Cookie": f"posthog_exports_session={cookies['posthog_exports_session']}"}
        for _ in range(2):  # drawn once, then the same image from the cache
            async with env.http.get(env.base + "/view/insight/1001.png?width=600", headers=session) as response:
                assert response.status == 200 and response.content_type == "image/png"
                assert (await response.read()).startswith(b"\x89PNG")
        status, headers, body = await get(env, "/view/insight/1001.png?width=700", headers=session)
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "Try again in" in body
    finally:
        await env.close()
