"""Options as query parameters of the share and embed pages: `theme`, `whitelabel`, `noHeader`, `legend=0`,
`width`, `refresh` (bounded); each changes what Chromium shows, and a value out of bounds is a 400 page."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests import web_support
from tests.web_support import get, share_of, start

browser = web_support.browser  # one Chromium for the module


@pytest.fixture
async def env(db):
    env = await start(db)
    yield env
    await env.close()


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
