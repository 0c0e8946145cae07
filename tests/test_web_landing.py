"""The landing page at `/`: what the service is; "Add to Slack" and "Sign in with Slack" only when the Slack app's
OAuth is configured; who is signed in, with a way out."""

from __future__ import annotations

from tests.web_support import get, member_workspace, start, start_with_signin


async def test_without_a_slack_app_the_landing_page_says_what_the_service_is(db):
    env = await start(db)
    try:
        status, headers, body = await get(env, "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "PostHog Exports" in body and "dashboards" in body
        assert "Add to Slack" not in body and "Sign in with Slack" not in body
        assert "default-src 'none'" in headers["Content-Security-Policy"] and "<script" not in body
    finally:
        await env.close()


async def test_with_a_slack_app_it_offers_to_install_and_to_sign_in_then_names_who_is_in(db):
    env = await start_with_signin(db)
    try:
        await member_workspace(env, "T1")
        _, _, body = await get(env, "/")
        assert 'href="/slack/install"' in body and "Add to Slack" in body
        assert 'href="/signin?next=/"' in body
        status, headers, _ = await get(env, "/slack/install")
        assert status == 200  # Slack's own install page answers (bot/); the button leads somewhere real
        env.slack.sign_in_as("T1", "U1", "Ana <b>Lovelace</b>")
        _, headers, _ = await get(env, "/signin?next=/")
        state = headers["Set-Cookie"].split(";")[0]
        async with env.http.get(headers["Location"], allow_redirects=False) as response:
            callback = response.headers["Location"]
        async with env.http.get(callback, allow_redirects=False, headers={"Cookie": state}) as response:
            assert response.status == 302 and response.headers["Location"] == "/"
            session = [c for c in response.headers.getall("Set-Cookie") if c.startswith("posthog_exports_session=")]
        _, _, body = await get(env, "/", headers={"Cookie": session[0].split(";")[0]})
        assert "Signed in as Ana &lt;b&gt;Lovelace&lt;/b&gt;" in body and 'href="/signout"' in body
        assert "Sign in with Slack</a>" not in body
    finally:
        await env.close()
