"""The other forms of a share link and of the viewer: `.png` drawn by the service's renderer (theme and width
apply; made once per link and options; a revoked link's cached image is 404 at once), `.csv` written by the
exports capability (an insight's CSV, a dashboard's zip of CSVs), and bad options answered with a page, not 500."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from PIL import Image

from core import shares
from core.models import Share
from tests import web_support
from tests.web_support import get, member_workspace, share_of, start_with_signin
from web import SHARE_SITE

pytestmark = pytest.mark.browser


env = web_support.env  # the service on loopback, per test


async def fetch(env, path: str, **kwargs) -> tuple[int, dict, bytes]:
    async with env.http.get(env.base + path, allow_redirects=False, **kwargs) as response:
        return response.status, response.headers, await response.read()


def drawn_share(png: bytes) -> float:
    image = Image.open(io.BytesIO(png)).convert("L")
    return 1 - image.histogram()[255] / (image.width * image.height)


async def test_a_shared_dashboard_as_png_is_rendered_once_per_options_and_gone_once_revoked(env, db):
    made = await share_of(db)
    status, headers, png = await fetch(env, f"/shared/{made.token}.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and headers["Cache-Control"] == "no-store"
    image = Image.open(io.BytesIO(png))
    assert image.width == 1200 * env.settings.render_scale and drawn_share(png) > 0.02
    status, _, dark = await fetch(env, f"/embedded/{made.token}.png?theme=dark&width=900")
    assert status == 200 and Image.open(io.BytesIO(dark)).width == 900 * env.settings.render_scale
    assert Image.open(io.BytesIO(dark)).convert("L").getpixel((5, 5)) < 80  # the dark background
    assert (await fetch(env, f"/shared/{made.token}.png"))[2] == png
    entry = env.runner.app[SHARE_SITE].cache._entries[made.share.id]
    assert sorted(k[1][0] for k in entry.derived if k[0] == "png") == ["dark", "light"]  # one render each

    async with db.transaction() as session:
        shares.revoke(await session.get(Share, made.share.id))
    for path in (f"/shared/{made.token}.png", f"/embedded/{made.token}.png?theme=dark&width=900",
                 f"/shared/{made.token}.csv"):
        status, _, body = await fetch(env, path)
        assert status == 404 and b"does not work" in body, path


async def test_csv_of_an_insight_and_a_zip_of_csvs_of_a_dashboard(env, db):
    insight = await share_of(db, kind="insight", ref="1001")
    status, headers, body = await fetch(env, f"/shared/{insight.token}.csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="Shared.csv"' == headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) > 5 and rows[0][0]

    dashboard = await share_of(db)
    status, headers, body = await fetch(env, f"/embedded/{dashboard.token}.csv")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert len(names) >= 3 and all(n.endswith(".csv") for n in names)


async def test_bad_options_and_protected_variants_get_plain_answers(env, db):
    made = await share_of(db)
    for query in ("theme=purple", "width=abc", "width=10", "refresh=1", "legend=maybe", "width=99999999999999"):
        status, headers, body = await fetch(env, f"/shared/{made.token}.png?{query}")
        assert status == 400 and headers["Content-Type"].startswith("text/html"), query
        assert b"cannot use" in body
        assert (await fetch(env, f"/embedded/{made.token}?{query}"))[0] == 400
    locked = await share_of(db, password="pw")
    for variant in ("png", "csv", "json"):
        assert (await fetch(env, f"/shared/{locked.token}.{variant}"))[0] == 401
    async with env.http.post(f"{env.base}/shared/{locked.token}", data={"password": "pw"},
                             allow_redirects=False) as response:
        paths = {c.split("Path=")[1].split(";")[0] for c in response.headers.getall("Set-Cookie")}
    assert paths == {f"/shared/{locked.token}{suffix}" for suffix in ("", ".json", ".png", ".csv")}
    for path in (f"/shared/{made.token}.pdf", f"/shared/{made.token}.png/x"):
        assert (await fetch(env, path))[0] == 404


async def test_the_viewer_has_the_same_forms_for_members(db):
    env = await start_with_signin(db)
    try:
        await member_workspace(env, "T1")
        env.slack.sign_in_as("T1", "U1")
        _, headers, _ = await get(env, "/signin?next=/")
        state = headers["Set-Cookie"].split(";")[0]
        async with env.http.get(headers["Location"], allow_redirects=False) as response:
            callback = response.headers["Location"]
        async with env.http.get(callback, allow_redirects=False, headers={"Cookie": state}) as response:
            session = {"Cookie": [c for c in response.headers.getall("Set-Cookie")
                                  if c.startswith("posthog_exports_session=")][0].split(";")[0]}
        status, headers, body = await fetch(env, "/view/insight/dm-pgvw.csv", headers=session)
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        status, headers, body = await fetch(env, "/view/dashboard/42.json", headers=session)
        assert status == 200 and b'"Product overview"' in body
        status, headers, body = await fetch(env, "/view/insight/1001.png?width=600", headers=session)
        assert status == 200 and Image.open(io.BytesIO(body)).width == 600 * env.settings.render_scale
        assert (await fetch(env, "/view/dashboard/42.exe", headers=session))[0] == 404
        assert (await fetch(env, "/view/dashboard/42.png"))[0] == 302  # no session: sign in first
    finally:
        await env.close()
