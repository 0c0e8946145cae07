"""Options as query parameters of the share and embed pages: `theme`, `whitelabel`, `noHeader`, `legend=0`,
`width`, `refresh` (bounded); each changes what Chromium shows, and a value out of bounds is a 400 page."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests import web_support
from tests.web_support import get, share_of

browser = web_support.browser  # one Chromium for the module


env = web_support.env  # the service on loopback, per test


def spec_of(body: str) -> dict:
    return json.loads(re.search(r'<script id="export-spec" type="application/json">(.*?)</script>', body, re.S)[1])


async def test_options_change_the_page_and_bad_values_are_named(env, db):
    made = await share_of(db)
    _, _, plain = await get(env, f"/shared/{made.token}")
    assert "Shared with" in plain and 'http-equiv="refresh"' not in plain and spec_of(plain)["width"] == 1200
    status, _, body = await get(env, f"/shared/{made.token}?whitelabel&noHeader=1&legend=0&theme=dark&width=800"
                                     "&refresh=120")
    assert status == 200 and "Shared with" not in body
    assert '<meta http-equiv="refresh" content="120">' in body
    assert ".dashboard-header, .insight-header { display: none" in body and ".legend { display: none" in body
    spec = spec_of(body)
    assert spec["theme"] == "dark" and spec["width"] == 800
    _, _, embedded = await get(env, f"/embedded/{made.token}")
    assert "Shared with" not in embedded  # no links out of an embed
    for query, named in (("refresh=5", "refresh"), ("refresh=100000", "refresh"), ("width=319", "width"),
                         ("theme=blue", "theme"), ("noHeader=perhaps", "noHeader"), ("width=-5", "width")):
        status, headers, body = await get(env, f"/embedded/{made.token}?{query}")
        assert status == 400 and named in body and "export-spec" not in body, query
        assert "frame-ancestors" in headers["Content-Security-Policy"]


def shown(driver, url: str) -> dict:
    driver.get(url)
    WebDriverWait(driver, 60, poll_frequency=0.05).until(lambda d: d.execute_script("return window.__exportReady"))
    return driver.execute_script("""
        const visible = (sel) => [...document.querySelectorAll(sel)].some(e => e.getClientRects().length > 0);
        return {header: visible('.dashboard-header'), legend: visible('.legend'),
                brand: visible('.pe-brand'), background: getComputedStyle(document.documentElement).backgroundColor};
    """)


@pytest.mark.browser
async def test_in_chromium_the_options_hide_what_they_name(browser, env, db):
    made = await share_of(db)
    plain = await asyncio.to_thread(shown, browser, f"{env.base}/shared/{made.token}")
    assert plain["header"] and plain["legend"] and plain["brand"]
    bare = await asyncio.to_thread(shown, browser, f"{env.base}/shared/{made.token}?noHeader&legend=0&whitelabel"
                                                   "&theme=dark")
    assert not bare["header"] and not bare["legend"] and not bare["brand"]
    assert bare["background"] != plain["background"]


def in_window(driver, url: str, width: int) -> dict:
    """The page at `url` drawn in a window `width` px wide: how it was fitted and laid out."""
    before = driver.get_window_size()
    driver.set_window_size(width, 900)
    try:
        driver.get(url)
        WebDriverWait(driver, 60, poll_frequency=0.05).until(
            lambda d: d.execute_script("return window.__exportReady && document.documentElement.dataset.fit"))
        return driver.execute_script("""return {url: location.href,
            fit: Number(document.documentElement.dataset.fit),
            lefts: [...new Set([...document.querySelectorAll('[data-tile]')]
                .map(t => Math.round(t.getBoundingClientRect().left)))],
            tiles: document.querySelectorAll('[data-tile]').length,
            sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth}""")
    finally:
        driver.set_window_size(before["width"], before["height"])


@pytest.mark.browser
async def test_in_chromium_a_dashboard_in_a_narrow_window_is_scaled_to_fit_and_a_wide_one_is_not(browser, env, db):
    made = await share_of(db)
    narrow = await asyncio.to_thread(in_window, browser, f"{env.base}/embedded/{made.token}", 700)
    assert 0.3 < narrow["fit"] < 0.7 and narrow["sideways"] <= 1  # the 1200 px grid, scaled; no sideways scroll
    wide = await asyncio.to_thread(in_window, browser, f"{env.base}/embedded/{made.token}", 1400)
    assert wide["fit"] == 1


@pytest.mark.browser
async def test_in_chromium_a_dashboard_on_a_small_screen_is_laid_out_again_in_one_column(browser, env, db):
    made = await share_of(db)
    phone = await asyncio.to_thread(in_window, browser, f"{env.base}/embedded/{made.token}", 480)
    assert "width=" in phone["url"] and phone["tiles"] > 3
    assert len(phone["lefts"]) == 1 and phone["sideways"] <= 1  # every tile in one column, nothing sideways
    chosen = await asyncio.to_thread(in_window, browser, f"{env.base}/embedded/{made.token}?width=1200", 480)
    assert chosen["url"].endswith("width=1200") and len(chosen["lefts"]) > 1  # a width asked for is kept (scaled)
