"""Exports through their doors: Slack (`/posthog export ...`, the file in a DM) and the command line.

Real parts: the database under test, the Slack stand-in, the demo PostHog project and its generated data,
local storage in a temporary folder; the PDF test prints in Chromium.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.models import ExportedAsset
from scheduler.assembly import scheduler_service
from tests.standins.content import FixedImages
from tests.standins.slack_api import start_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def env(db, tmp_path):
    env = await start_bot(db, export_dir=str(tmp_path / "exports"), public_url="http://exports.example")
    env.slack.users["U1"] = {"tz": "Europe/London", "name": "ana", "profile": {"real_name": "Ana"}}
    await env.install("T1", name="Acme")
    await env.driver.command("connect demo")
    yield env
    await env.close()


async def assets(db) -> list[ExportedAsset]:
    async with db.session() as session:
        return list((await session.scalars(select(ExportedAsset).order_by(ExportedAsset.id))).all())


async def announced_assets(db, timeout: float = 30.0) -> list[ExportedAsset]:
    """The exports once each is recorded as announced, which happens just after Slack has taken the file."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await assets(db)
        if rows and all(row.notified_at is not None for row in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            seen = [(row.id, row.status) for row in rows]
            raise AssertionError(f"exports not recorded as announced within {timeout:g}s: {seen}")
        await asyncio.sleep(0.05)


async def run_exports(env, db) -> None:
    async with scheduler_service(env.settings, db, load_content=FixedImages(env.settings), worker_id="t") as service:
        while await service.exports.tick():
            await service.exports.drain()


def uploaded(env) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every file sent to Slack, in order."""
    files = []
    for call in env.slack.calls_to("files.getUploadURLExternal"):
        files.append(call.params.get("filename", ""))
    return [(name, data) for name, data in zip(files, env.slack.uploads.values(), strict=False)]


async def test_a_dashboard_exported_from_slack_arrives_at_once_as_a_workbook_in_a_direct_message(env, db):
    answer = await env.driver.command("export dashboard 42 as xlsx")
    assert "export #" in answer.text and "direct message" in answer.text
    # Quick to make: the command runs it itself, no worker needed.
    await env.slack.wait_for(lambda: env.slack.calls_to("files.completeUploadExternal"), timeout=30)
    [asset] = await announced_assets(db)
    assert (asset.format, asset.requested_by_slack_user) == ("xlsx", "U1")
    assert asset.status == "ready" and asset.notified_at is not None and asset.expires_at is not None
    [(name, data)] = uploaded(env)
    assert name.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    assert workbook.sheetnames[0] == "Index" and len(workbook.sheetnames) > 5
    [completion] = env.slack.calls_to("files.completeUploadExternal")
    assert "is ready" in completion.params.get("initial_comment", "")


async def test_events_exported_from_slack_follow_the_range_and_the_filter(env, db):
    answer = await env.driver.command('export events last 7 days where event = “$pageview” as csv')
    assert "over the last 7 days" in answer.text
    waiting = await env.driver.command("exports")
    assert "events as CSV: waiting for a worker" in waiting.text
    await run_exports(env, db)
    [asset] = await assets(db)
    assert asset.status == "ready", asset.error
    assert f"#{asset.id} events as CSV: ready" in (await env.driver.command("exports")).text
    assert "no exports yet" in (await env.driver.command("exports", user_id="U2")).text
    [(name, data)] = uploaded(env)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert "event" in header and len(body) > 100
    assert {row[header.index("event")] for row in body} == {"$pageview"}


async def test_guests_can_export_insights_but_not_raw_data(env, db):
    env.slack.users["UGUEST"] = {"tz": "UTC", "name": "gus", "is_restricted": True}
    refused = await env.driver.command("export persons as csv", user_id="UGUEST")
    assert "Guests of this workspace" in refused.text
    assert await assets(db) == []
    allowed = await env.driver.command("export insight 1001 as csv", user_id="UGUEST")
    assert "export #" in allowed.text
    # Made at once after the answer: the test ends once it is done, not with its database session still open.
    [made] = await announced_assets(db)
    assert made.status == "ready" and made.requested_by_slack_user == "UGUEST"


MALFORMED = [
    ("export", "What should I export?"),
    ("export dashboard as csv", "Which dashboard?"),
    ("export dashboard 42 as docx", "CSV, XLSX or PDF"),
    ("export events as pdf", "A PDF shows an insight or a dashboard"),
    ("export cohort as csv", "Which cohort?"),
    ("export groups 9 as csv", "Which group type?"),
    ("export events last fortnight as csv", "fortnight"),
    ("export persons last 7 days", "A date range is for events"),
    ("export dashboard 42 weekly as csv", "takes only the format"),
    ("export events where event = 'x'; drop table as csv", "no semicolons"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
async def test_malformed_exports_are_answered_specifically_and_record_nothing(env, db, text, expected):
    answer = await env.driver.command(text)
    assert expected in answer.text, answer.text
    assert await assets(db) == []


def app(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


async def test_command_line_exports_and_the_list_of_exports(db, tmp_path):
    env = {**os.environ, "DATABASE_URL": db.url, "EXPORT_DIR": str(tmp_path / "store"), "LOG_LEVEL": "WARNING"}
    out = tmp_path / "events.csv"
    result = app("export", "events", "--last", "7d", "--events", "signed_up", "--columns", "timestamp,event",
                 "-o", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["timestamp", "event"] and len(rows) > 10
    assert {r[1] for r in rows[1:]} == {"signed_up"}
    assert f"{len(rows) - 1:,} rows" in result.stdout

    workbook = tmp_path / "insight.xlsx"
    assert app("export", "insight", "1001", "-o", str(workbook), env=env, cwd=tmp_path).returncode == 0
    assert load_workbook(workbook, read_only=True).sheetnames

    listed = app("exports", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "events as csv  ready" in listed.stdout and "insight 1001 as xlsx" in listed.stdout

    bad = app("export", "events", "--last", "fortnight", "-o", str(tmp_path / "x.csv"), env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "fortnight" in bad.stderr


@pytest.mark.browser
async def test_command_line_pdf_of_dashboard_42_has_every_tile(db, tmp_path):
    from pypdf import PdfReader

    from posthog_api import DemoProject

    env = {**os.environ, "DATABASE_URL": db.url, "EXPORT_DIR": str(tmp_path / "store"), "LOG_LEVEL": "WARNING"}
    out = tmp_path / "overview.pdf"
    result = app("export", "dashboard", "42", "-o", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = "".join(" ".join(p.extract_text() for p in PdfReader(out).pages).split())
    for tile in (await DemoProject().get_dashboard(42)).tiles:
        assert "".join(tile.title.split()) in text, tile.title


def test_export_help_lists_the_kinds():
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "export", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "cohort" in result.stdout and json.dumps("x")


@pytest.mark.slow
async def test_a_request_for_one_and_a_half_million_rows_stops_at_the_cap_and_says_so(db, tmp_path):
    import asyncio

    from tests.standins.posthog_server import PostHogStandIn

    posthog = PostHogStandIn(api_key="phx_cap", project_id=2)
    posthog.event_rows = 1_500_000
    await posthog.start()
    try:
        env = {**os.environ, "DATABASE_URL": db.url, "EXPORT_DIR": str(tmp_path / "store"), "LOG_LEVEL": "WARNING",
               "POSTHOG_HOST": posthog.url, "POSTHOG_PROJECT_ID": "2", "POSTHOG_API_KEY": "phx_cap",
               "EXPORT_PAGE_SIZE": "50000"}
        out = tmp_path / "events.csv"
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "app.py"), "export", "events", "--last", "30d", "--columns",
            "timestamp,event", "-o", str(out), env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 240)
    finally:
        await posthog.stop()
    assert process.returncode == 0, stderr.decode()
    assert "1,000,000 rows" in stdout.decode() and "stopped at EXPORT_MAX_ROWS" in stdout.decode()
    with out.open(encoding="utf-8") as handle:
        lines = sum(1 for _ in handle)
    last = out.read_text(encoding="utf-8").rstrip("\n").rsplit("\n", 1)[-1]
    assert "EXPORT_MAX_ROWS" in last
    assert lines == 1 + 1_000_000 + 1  # the header, the rows, the note
    # It stopped asking PostHog once it had enough.
    assert max(posthog.query_offsets()) <= 1_000_000
    [asset] = await assets(db)
    assert (asset.status, asset.row_count, asset.truncated) == ("ready", 1_000_000, True)


async def export_in_process(db, settings, request, connection_id: int | None = None, *, out: Path) -> ExportedAsset:
    """Record, claim and run one export in this process, keeping a copy of the file at `out`."""
    from core.models import PostHogConnection, utcnow
    from core.subscriptions import demo_connection
    from exports import ExportPolicy, ExportRunner, claim_exports, make_storage, start_export

    async with db.transaction() as session:
        connection = (await session.get(PostHogConnection, connection_id) if connection_id
                      else await demo_connection(session))
        asset = await start_export(session, request, connection=connection)
    policy = ExportPolicy(worker_id="test")
    assert await claim_exports(db, utcnow(), policy, only=[asset.id]) == [asset.id]
    return await ExportRunner(db, settings, make_storage(settings), policy).run(asset.id, copy_to=out)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.open(encoding="utf-8-sig")))


def as_text(value) -> str:
    """A cell as comparable text: dates and date-times (typed in a workbook, ISO text in a CSV) alike."""
    from datetime import date, datetime

    from exports import parse_iso

    value = parse_iso(value) if isinstance(value, str) else value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def xlsx_rows(path: Path) -> list[list[str]]:
    sheet = load_workbook(path, read_only=True).worksheets[0]
    return [[as_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def csv_text_rows(path: Path) -> list[list[str]]:
    return [[as_text(v) for v in row] for row in csv_rows(path)]


@pytest.mark.parametrize(("kind", "ref"), [("persons", ""), ("cohort", "1"), ("groups", "0"), ("events", "")])
async def test_every_data_kind_of_the_demo_exports_to_csv_and_the_same_xlsx(db, tmp_path, kind, ref):
    from core.settings import Settings
    from exports import ExportRequest

    settings = Settings(database_url=db.url, export_dir=tmp_path / "store")
    columns = ("timestamp", "event", "distinct_id") if kind == "events" else ()
    done = {}
    for fmt in ("csv", "xlsx"):
        request = ExportRequest(kind=kind, ref=ref, format=fmt, columns=columns,
                                date_from="-3d" if kind == "events" else None)
        asset = await export_in_process(db, settings, request, out=tmp_path / f"out.{fmt}")
        assert asset.status == "ready", asset.error
        done[fmt] = asset
    from_csv, from_xlsx = csv_text_rows(tmp_path / "out.csv"), xlsx_rows(tmp_path / "out.xlsx")
    assert len(from_csv) > 10 and len(from_csv) == len(from_xlsx) == done["csv"].row_count + 1
    assert from_csv == from_xlsx
    if kind == "events":  # PostHog's ISO text becomes real date-times in the workbook
        from datetime import datetime

        sheet = load_workbook(tmp_path / "out.xlsx", read_only=True).worksheets[0]
        assert isinstance(next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))[0], datetime)


async def test_data_from_a_real_posthog_api_exports_to_csv_and_xlsx_alike(db, tmp_path):
    from core.models import PostHogConnection
    from core.settings import Settings
    from exports import ExportRequest
    from tests.standins.posthog_server import PostHogStandIn

    posthog = PostHogStandIn(api_key="phx_x", project_id=2)
    posthog.event_rows = 12_345
    await posthog.start()
    try:
        async with db.transaction() as session:
            connection = PostHogConnection(name="Acme", host=posthog.url, project_id=2, api_key="phx_x")
            session.add(connection)
            await session.flush()
        settings = Settings(database_url=db.url, export_dir=tmp_path / "store", export_page_size=5000,
                            posthog_allow_private_hosts=True)
        for fmt in ("csv", "xlsx"):
            request = ExportRequest(kind="events", format=fmt, date_from="-30d", columns=("event", "distinct_id"))
            asset = await export_in_process(db, settings, request, connection.id, out=tmp_path / f"e.{fmt}")
            assert (asset.status, asset.row_count) == ("ready", 12_345)
    finally:
        await posthog.stop()
    assert csv_text_rows(tmp_path / "e.csv") == xlsx_rows(tmp_path / "e.xlsx")


async def test_closing_a_dated_table_closes_its_source():
    from exports import with_dates

    closed = []

    async def pages():
        try:
            for i in range(10):
                yield [f"2024-05-0{i % 9 + 1}"]
        finally:
            closed.append(True)  # where the PostHog paging closes its connection

    rows = with_dates(pages())
    await anext(rows)
    await rows.aclose()
    assert closed == [True]
