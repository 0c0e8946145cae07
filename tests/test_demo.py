"""The README's main job: `python app.py demo` on the embedded defaults, and the email it leaves in the outbox."""

from __future__ import annotations

import base64
import email
import io
import os
import re
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # runs the whole demo, then opens its email in Chromium

ROOT = Path(__file__).resolve().parent.parent
GMAIL_CLIP_BYTES = 102 * 1024


@pytest.fixture(scope="module")
def demo_email(tmp_path_factory) -> email.message.EmailMessage:
    workdir = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
        "OUTBOX_DIR": str(workdir / "outbox"),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "demo"], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    [eml] = list((workdir / "outbox").glob("*.eml"))
    return email.message_from_bytes(eml.read_bytes(), policy=policy.default)


def test_the_demo_email_carries_every_tile_of_dashboard_42_inline(demo_email) -> None:
    html = demo_email.get_body(("html",)).get_content()
    assert len(html.encode()) < GMAIL_CLIP_BYTES
    assert demo_email.get_body(("plain",)).get_content().strip()
    images = {part["Content-ID"].strip("<>"): part for part in demo_email.walk() if part["Content-ID"]}
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert len(cids) >= 9  # one image per tile of dashboard 42
    assert set(cids) <= set(images)
    assert all(images[cid].get_content_type() == "image/png" for cid in cids)
    assert demo_email["List-Unsubscribe"].startswith("<http")
    assert demo_email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_demo_email_shows_its_images_in_a_browser(demo_email, tmp_path: Path) -> None:
    # What a mail client does: resolve every cid: reference to its attached part.
    html = demo_email.get_body(("html",)).get_content()
    for part in demo_email.walk():
        if part["Content-ID"]:
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            html = html.replace(f"cid:{part['Content-ID'].strip('<>')}", f"data:image/png;base64,{data}")
    page = tmp_path / "email.html"
    page.write_text(html)

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=700,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(page.as_uri())
        loaded = driver.execute_script(
            "return [...document.images].map("
            "  i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 100)"
        )
        screenshot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    finally:
        driver.quit()
    assert len(loaded) >= 9 and all(loaded)
    background = Image.new("RGB", screenshot.size, screenshot.getpixel((0, 0)))
    histogram = ImageChops.difference(screenshot, background).convert("L").histogram()
    assert sum(histogram[30:]) / sum(histogram) > 0.02  # a real share of the page is not background
