"""Share links in real headless Chromium: a page of another loopback origin embeds `/embedded/<token>` of the demo
dashboard 42 and every tile draws; an embed restricted to other origins is refused by the browser; a dashboard
whose PostHog title and text tile carry script shows them as text and runs none of it."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests import web_support
from tests.standins.posthog_server import PostHogStandIn
from tests.web_support import PAYLOAD_TITLE, hostile_dashboard, share_of, standin_connection

pytestmark = pytest.mark.browser
READY_SECONDS = 60  # an upper bound on waiting, not a measure: the flag is polled
browser = web_support.browser  # one Chromium for the module


@pytest.fixture
async def posthog():
    server = PostHogStandIn()
    server.add_dashboard(hostile_dashboard())
    await server.start()
    yield server
    await server.stop()


env = web_support.env  # the service on loopback, per test


def wait_ready(driver) -> object:
    """The exporter page's readiness flag, once it is set (True, or "error:..."/"failed:..." to report)."""
    return WebDriverWait(driver, READY_SECONDS, poll_frequency=0.05).until(
        lambda d: d.execute_script("return window.__exportReady || null"))


def drawn_share(png: bytes) -> float:
    """The share of pixels that differ from white."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return 1 - image.histogram()[255] / (image.width * image.height)


def policy_refusals(driver) -> list[str]:
    """What the browser refused under a Content-Security-Policy since the last call (the log is drained)."""
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def open_embed(driver, url: str) -> tuple[object, object, int, bytes, list[str]]:
    policy_refusals(driver)
    driver.get(url)
    frame = driver.find_element(By.ID, "embed")
    driver.switch_to.frame(frame)
    try:
        flag = wait_ready(driver)
        tiles = driver.execute_script("return document.querySelectorAll('#export-root [data-tile]').length")
        pwned = driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")
    finally:
        driver.switch_to.default_content()
    return flag, pwned, tiles, driver.get_screenshot_as_png(), policy_refusals(driver)


async def test_another_origin_embeds_dashboard_42_and_every_tile_draws(browser, env, db):
    made = await share_of(db)  # the demo project's dashboard 42
    outer, runner = await web_support.another_origin(
        f'<!doctype html><body style="margin:0;background:#fff"><iframe id="embed" '
        f'src="{env.base}/embedded/{made.token}" width="1200" height="880" style="border:0"></iframe></body>')
    try:
        flag, pwned, tiles, png, refused = await asyncio.to_thread(open_embed, browser, outer)
    finally:
        await runner.cleanup()
    assert flag is True, flag  # every chart drew: no error card, no failure
    assert refused == []  # the page needs nothing its policy forbids
    assert tiles >= 3 and pwned is None
    assert drawn_share(png) >= 0.01, "the embedded page is (nearly) blank"


def frame_document(driver, url: str) -> str:
    driver.get(url)
    driver.switch_to.frame(driver.find_element(By.ID, "embed"))
    try:
        # A refused frame holds the browser's own error page: none of ours, no exporter.
        WebDriverWait(driver, READY_SECONDS, poll_frequency=0.05).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        return driver.execute_script("return String(location.href) + ' ' + typeof window.exporter")
    finally:
        driver.switch_to.default_content()


async def test_an_embed_restricted_to_other_origins_and_a_shared_page_are_not_framed(browser, env, db):
    limited = await share_of(db, allowed_origins=["https://intranet.acme.com"])
    plain = await share_of(db)
    seen = []
    for path in (f"/embedded/{limited.token}", f"/shared/{plain.token}"):
        outer, runner = await web_support.another_origin(f'<iframe id="embed" src="{env.base}{path}"></iframe>')
        try:
            seen.append(await asyncio.to_thread(frame_document, browser, outer))
        finally:
            await runner.cleanup()
    for where in seen:
        assert "undefined" in where and env.base not in where, where


def open_page(driver, url: str) -> tuple[object, object, str, str]:
    policy_refusals(driver)
    driver.get(url)
    flag = wait_ready(driver)
    pwned = driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")
    heading = driver.execute_script("return document.querySelector('.dashboard-title').textContent")
    text_tile = driver.execute_script("return document.querySelector('.tile-text').textContent")
    assert policy_refusals(driver) == []  # nothing was even tried: the words never became markup
    return flag, pwned, heading, text_tile


async def test_script_in_posthog_titles_and_text_runs_nowhere_and_reads_as_text(browser, env, db, posthog):
    made = await share_of(db, await standin_connection(db, posthog), ref="7")
    for path in (f"/shared/{made.token}", f"/embedded/{made.token}"):
        flag, pwned, heading, text_tile = await asyncio.to_thread(open_page, browser, env.base + path)
        assert flag is True, flag
        assert pwned is None, f"a script from PostHog's content ran on {path}"
        assert PAYLOAD_TITLE in heading
        assert "<script>window.__pwned=2</script>" in text_tile
