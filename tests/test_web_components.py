"""`/embed.js` and another site's page: a plain page served from another loopback origin embeds
`/embedded/<token>` of dashboard 42 in an iframe and uses `<posthog-insight>` and `<posthog-dashboard>`; all of
them draw (their readiness flags) and are not blank. The `.json` form they read is open to other origins (CORS),
or only to a share's allowed origins."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests import web_support
from tests.standins.posthog_server import PostHogStandIn
from tests.web_support import PAYLOAD_TITLE, get, hostile_dashboard, share_of, standin_connection

READY_SECONDS = 60
browser = web_support.browser  # one Chromium for the module


env = web_support.env  # the service on loopback, per test


def drawn_share(png: bytes) -> float:
    image = Image.open(io.BytesIO(png)).convert("L")
    return 1 - image.histogram()[255] / (image.width * image.height)


async def test_embed_js_and_the_json_it_draws_from_are_open_to_other_sites(env, db):
    status, headers, body = await get(env, "/embed.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert headers["Access-Control-Allow-Origin"] == "*" and "__ASSETS__" not in body
    assert "/exporter/static/plotly.min.js?v=" in body and "customElements.define(\"posthog-insight\"" in body
    assert "https://" not in body and "http://" not in body  # nothing from anywhere but here

    made = await share_of(db)
    status, headers, body = await get(env, f"/embedded/{made.token}.json?draw=1&theme=dark&width=900",
                                      headers={"Origin": "http://elsewhere.test"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    page = json.loads(body)["page"]
    assert page["theme"] == "dark" and page["width"] == 900 and len(page["charts"]) >= 3
    assert all({"id", "data", "layout"} <= chart.keys() for chart in page["charts"])
    assert "page" not in json.loads((await get(env, f"/embedded/{made.token}.json"))[2])

    limited = await share_of(db, allowed_origins=["http://intranet.test"])
    path = f"/embedded/{limited.token}.json?draw=1"
    _, headers, _ = await get(env, path, headers={"Origin": "http://intranet.test"})
    assert headers["Access-Control-Allow-Origin"] == "http://intranet.test"
    _, headers, _ = await get(env, path, headers={"Origin": "http://elsewhere.test"})
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, body = await get(env, "/embedded/no-such-token-of-some-length.json")
    assert status == 404 and headers["Access-Control-Allow-Origin"] == "*"
    status, _, body = await get(env, f"/embedded/{made.token}.json?draw=1&width=2")
    assert status == 400 and "width" in json.loads(body)["error"]


def open_site(driver, url: str) -> dict:
    driver.get(url)
    wait = WebDriverWait(driver, READY_SECONDS, poll_frequency=0.05)
    found: dict = {}
    for name in ("insight", "dashboard", "broken"):
        found[name] = wait.until(lambda d, n=name: d.execute_script(
            f"var v = document.getElementById('{n}').getAttribute('data-ready'); return v === 'false' ? null : v"))
    found["charts"] = driver.execute_script(
        "return document.getElementById('dashboard').shadowRoot.querySelectorAll('.js-plotly-plot').length")
    found["broken_text"] = driver.execute_script(
        "return document.getElementById('broken').shadowRoot.textContent")
    found["insight_png"] = driver.find_element(By.ID, "insight").screenshot_as_png
    driver.switch_to.frame(driver.find_element(By.ID, "embed"))
    try:
        found["frame"] = wait.until(lambda d: d.execute_script("return window.__exportReady || null"))
        found["frame_tiles"] = driver.execute_script(
            "return document.querySelectorAll('#export-root [data-tile]').length")
    finally:
        driver.switch_to.default_content()
    found["frame_png"] = driver.find_element(By.ID, "embed").screenshot_as_png
    return found


@pytest.mark.browser
async def test_another_origin_embeds_dashboard_42_in_an_iframe_and_as_web_components(browser, env, db):
    dashboard = await share_of(db)  # the demo project's dashboard 42
    insight = await share_of(db, kind="insight", ref="1001")
    outer, runner = await web_support.another_origin(f"""<!doctype html><html><head><meta charset="utf-8">
<script src="{env.base}/embed.js"></script></head><body style="margin:0;background:#fff">
<iframe id="embed" src="{env.base}/embedded/{dashboard.token}" width="1200" height="880" style="border:0"></iframe>
<posthog-insight id="insight" share="{insight.token}" theme="dark" style="width:700px"></posthog-insight>
<posthog-dashboard id="dashboard" share="{dashboard.token}" width="1200"></posthog-dashboard>
<posthog-insight id="broken" share="not-a-share-token-but-long-enough"></posthog-insight>
</body></html>""")
    try:
        seen = await asyncio.to_thread(open_site, browser, outer)
    finally:
        await runner.cleanup()
    assert seen["frame"] is True and seen["frame_tiles"] >= 3
    assert drawn_share(seen["frame_png"]) >= 0.01, "the embedded page is (nearly) blank"
    assert seen["insight"] == "true" and seen["dashboard"] == "true", seen
    assert seen["charts"] >= 2
    assert drawn_share(seen["insight_png"]) >= 0.3  # the dark theme's background and a chart on it
    assert seen["broken"] == "failed:HTTP 404" and "does not work" in seen["broken_text"]


def open_hostile(driver, url: str) -> tuple[object, object, str, str]:
    driver.get(url)
    flag = WebDriverWait(driver, READY_SECONDS, poll_frequency=0.05).until(lambda d: d.execute_script(
        "var v = document.getElementById('hostile').getAttribute('data-ready'); return v === 'false' ? null : v"))
    pwned = driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")
    root = "document.getElementById('hostile').shadowRoot"
    heading = driver.execute_script(f"return {root}.querySelector('.dashboard-title').textContent")
    text_tile = driver.execute_script(f"return {root}.querySelector('.tile-text').textContent")
    return flag, pwned, heading, text_tile


@pytest.mark.browser
async def test_script_in_posthog_words_is_text_in_the_web_component_too(browser, env, db):
    posthog = PostHogStandIn()
    posthog.add_dashboard(hostile_dashboard())
    await posthog.start()
    try:
        made = await share_of(db, await standin_connection(db, posthog), ref="7")
        outer, runner = await web_support.another_origin(f'''<!doctype html><script src="{env.base}/embed.js"></script>
<posthog-dashboard id="hostile" share="{made.token}"></posthog-dashboard>''')
        try:
            flag, pwned, heading, text_tile = await asyncio.to_thread(open_hostile, browser, outer)
        finally:
            await runner.cleanup()
    finally:
        await posthog.stop()
    assert flag == "true" and pwned is None
    assert PAYLOAD_TITLE in heading and "<script>window.__pwned=2</script>" in text_tile
