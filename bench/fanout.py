"""Fan-out benchmark: render each dashboard once for all its subscribers, against a render per subscription.

    .venv/bin/python bench/fanout.py [--subscriptions 1000] [--dashboards 50] [--slice 100] [--tiles N]
                                     [--scale 2] [--database-url URL]

1,000 subscriptions over 50 dashboards (copies of the demo project's dashboards, each with its own id and name),
half to Slack channels, half to email recipients, all due at the same moment, go through the real pipeline:
real Chromium, the Slack Web API stand-in and an SMTP server on loopback in a process of their own (as the real
ones are other machines), a real database (a fresh SQLite file
unless --database-url is given). Prints the renders performed (equal to the distinct dashboards), the deliveries
made and the wall time; then the same pipeline on a slice of 100 subscriptions with a render per subscription
(each one asks for its own image width, so no two share content), and the ratio of the per-delivery costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ.setdefault("POSTHOG_EXPORTS_VAR_DIR", str(_TMP / "var"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from slack_sdk.oauth.installation_store import Installation  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from standins import cpu_by_process  # noqa: E402

from bot import DatabaseInstallationStore  # noqa: E402
from bot.installation_store import find_workspace  # noqa: E402
from core import metrics, migrations  # noqa: E402
from core.db import Database, empty_tables  # noqa: E402
from core.models import Delivery, DeliveryTarget  # noqa: E402
from core.schedule_phrases import parse_schedule  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.subscriptions import create_subscription, demo_connection  # noqa: E402
from posthog_api import DEMO_BASE_URL, DEMO_PROJECT_ID, DemoProject, normalize_dashboard  # noqa: E402
from render import Renderer, produce  # noqa: E402
from scheduler.assembly import build_pipeline  # noqa: E402
from scheduler.claiming import ClaimPolicy, claim_due_subscriptions  # noqa: E402
from scheduler.pipeline import Pipeline, Rendered  # noqa: E402

TEAM, TOKEN = "T1", "xoxb-bench-token"
FIRST_DASHBOARD_ID = 5001
SOURCE_DASHBOARDS = (42, 43, 44)  # the demo project's dashboards, copied round-robin
WIDTH = 1200  # the dashboard width every grouped subscription asks for
DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STANDINS_START_SECONDS = 30  # to start, and to stop once told to


class CopiedDashboards:
    """A content source serving `count` dashboards, each a copy of a demo dashboard with its own id and name.

    Insights come from the demo project unchanged. With `tiles`, each copy keeps only its first `tiles` tiles."""

    def __init__(self, count: int, tiles: int | None = None) -> None:
        self.count = count
        self.tiles = tiles
        self.demo = DemoProject()

    async def __aenter__(self) -> CopiedDashboards:
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    async def get_insight(self, ref, *, refresh: bool = True):
        return await self.demo.get_insight(ref, refresh=refresh)

    async def get_dashboard(self, dashboard_id: int, *, refresh: bool = True):
        number = int(dashboard_id) - FIRST_DASHBOARD_ID
        if not 0 <= number < self.count:
            raise LookupError(f"dashboard {dashboard_id} is not one of the {self.count} bench dashboards")
        payload = await self.demo.get_dashboard_payload(SOURCE_DASHBOARDS[number % len(SOURCE_DASHBOARDS)])
        payload["id"] = int(dashboard_id)
        payload["name"] = f"{payload['name']} (copy {number + 1})"
        if self.tiles:
            payload["tiles"] = payload["tiles"][: self.tiles]
        return normalize_dashboard(payload, base_url=DEMO_BASE_URL, project_id=DEMO_PROJECT_ID)


class StandIns:
    """Slack and SMTP stand-ins in a process of their own (bench/standins.py), as the real ones would be."""

    def __init__(self, process: asyncio.subprocess.Process, addresses: dict) -> None:
        self.process = process
        self.slack_api_url = addresses["slack_api_url"]
        self.base = addresses["slack_base"]
        self.smtp_host = addresses["smtp_host"]
        self.smtp_port = addresses["smtp_port"]

    @classmethod
    async def start(cls) -> StandIns:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("standins.py")), TOKEN, TEAM,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        try:
            line = await asyncio.wait_for(process.stdout.readline(), STANDINS_START_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SystemExit(
                f"bench/standins.py did not print its addresses within {STANDINS_START_SECONDS}s"
            ) from None
        if not line:
            await process.wait()
            raise SystemExit(f"bench/standins.py exited ({process.returncode}) before printing its addresses")
        return cls(process, json.loads(line))

    async def stats(self) -> dict:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}/bench/stats") as response:
            return await response.json()

    async def reset(self) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"{self.base}/bench/reset") as response:
            await response.read()

    async def stop(self) -> None:
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), STANDINS_START_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def reset(database: Database) -> None:
    await empty_tables(database)


async def subscribe(database: Database, count: int, dashboards: int, *, widths: list[int] | None = None,
                    prefix: str = "") -> None:
    """`count` subscriptions over `dashboards` dashboards, alternately to a Slack channel and an email address,
    each with a target of its own, all due at DUE."""
    schedule = parse_schedule("daily at 9:00", "UTC", today=DUE.date())
    async with database.transaction() as session:
        workspace = await find_workspace(session, TEAM)
        connection = await demo_connection(session, workspace.id)
        for i in range(count):
            target = (
                dict(target_type="slack", slack_channel_id=f"C{prefix}{i:05d}") if i % 2 == 0
                else dict(target_type="email", email_recipients=[f"{prefix}r{i:05d}@example.com"])
            )
            subscription = await create_subscription(
                session, connection=connection, content_type="dashboard",
                content_ref=str(FIRST_DASHBOARD_ID + i % dashboards), schedule=schedule,
                workspace_id=workspace.id, created_by_slack_user="UCREATOR", now=DUE - timedelta(minutes=1), **target,
            )
            subscription.image_width = widths[i] if widths else WIDTH


STEPS = {"compose": "compose emails", "send_slack": "send to Slack", "send_email": "send emails (composing too)",
         "record": "record outcomes"}


def step_seconds() -> dict[str, float]:
    """Seconds spent so far in each step after the render, as the service's own metrics count them."""
    name = metrics.PREFIX + "delivery_step_seconds_sum"
    return {step: metrics.REGISTRY.get_sample_value(name, {"step": step}) or 0.0 for step in STEPS}


async def run_once(
    pipeline: Pipeline, database: Database, count: int, rendered_at: list[float], spent: Counter, standins_pid: int
) -> tuple[float, int, int]:
    """Claim everything due and run it through the pipeline; (seconds, deliveries succeeded, targets sent)."""
    policy = ClaimPolicy(worker_id="bench", lease=timedelta(minutes=30), grace=timedelta(hours=6), batch=count)
    before = step_seconds()
    spent.clear()
    processes = {"the service": os.getpid(), "the stand-ins": standins_pid}
    cpu_before = cpu_by_process(processes)
    started = time.perf_counter()
    ids = await claim_due_subscriptions(database, DUE, policy)
    claimed = time.perf_counter()
    await pipeline.run(ids)
    seconds = time.perf_counter() - started
    render_phase = (max(rendered_at) - started) if rendered_at else 0.0
    print(f"  (claim, fetch and render: {render_phase:.1f}s; sending and recording after the last render: "
          f"{seconds - render_phase:.1f}s)")
    # Steps overlap (two contents drawn at once, eight sends in flight), so their sums exceed the wall time.
    steps = {step: seconds_spent - before[step] for step, seconds_spent in step_seconds().items()}
    print(f"  where the time goes (seconds summed over concurrent work): claim {claimed - started:.2f}, "
          f"fetch {spent['fetch']:.1f}, render {spent['render']:.1f}, "
          + ", ".join(f"{STEPS[step]} {value:.1f}" for step, value in steps.items()))
    # The machine's cores are shared by everything on it: when the CPU used is near cores x wall time, the run is
    # bound by CPU, and only less work (not more overlap) makes it faster.
    cpu = {name: used - cpu_before[name] for name, used in cpu_by_process(processes).items()}
    cores = os.cpu_count() or 1
    print(f"  CPU seconds: the service {cpu['the service']:.1f}, its Chromium {cpu['browsers']:.1f}, the stand-ins "
          f"{cpu['the stand-ins']:.1f}; {sum(cpu.values()):.1f} in all, of the {cores * seconds:.1f} that "
          f"{cores} cores give in {seconds:.1f}s ({sum(cpu.values()) / (cores * seconds):.0%})")
    async with database.session() as session:
        succeeded = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "succeeded"))
        sent = await session.scalar(
            select(func.count()).select_from(DeliveryTarget).where(DeliveryTarget.status == "sent"))
        statuses = Counter((await session.scalars(select(Delivery.status))).all())
    if len(ids) != count or succeeded != count:
        print(f"  !! claimed {len(ids)} of {count}; delivery statuses: {dict(statuses)}")
    return seconds, succeeded, sent


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--slice", type=int, default=100, help="subscriptions run with a render each")
    parser.add_argument("--tiles", type=int, default=None, help="keep only the first N tiles of each dashboard")
    parser.add_argument("--scale", type=float, default=2.0, help="device scale factor of the images")
    parser.add_argument("--pool", type=int, default=2, help="browser sessions (the pipeline renders two at once)")
    parser.add_argument("--database-url", default=f"sqlite+aiosqlite:///{_TMP / 'bench.db'}")
    args = parser.parse_args()

    await asyncio.to_thread(migrations.upgrade, args.database_url)
    database = Database(args.database_url)
    await reset(database)
    standins = await StandIns.start()
    settings = Settings(
        database_url=args.database_url, secret_key=os.environ["SECRET_KEY"], slack_api_url=standins.slack_api_url,
        email_transport="smtp", smtp_host=standins.smtp_host, smtp_port=standins.smtp_port, smtp_security="none",
        email_from="Reports <reports@bench.example>", render_scale=args.scale,
    )
    await DatabaseInstallationStore(database).async_save(Installation(
        app_id="A0APP", team_id=TEAM, team_name="Bench", user_id="UADMIN", bot_token=TOKEN, bot_id="BBENCH",
        bot_user_id="UBOTBENCH", bot_scopes="commands,chat:write,files:write",
    ))
    source = CopiedDashboards(args.dashboards, args.tiles)

    print(f"database: {database.engine.dialect.name}; images at scale {args.scale:g}, {args.pool} browser sessions; "
          f"tiles per dashboard: {args.tiles or 'all (4, 6 or 9)'}")
    try:
        async with Renderer(settings, pool_size=args.pool) as renderer:
            rendered_at: list[float] = []
            spent: Counter = Counter()  # seconds in the content loader: fetch, render

            def pipeline() -> Pipeline:
                async def load_and_note(_connection, ref):
                    # The copied dashboards stand in for PostHog; drawing is the service's own.
                    started = time.perf_counter()
                    content = await source.get_dashboard(int(ref.ref))
                    fetched = time.perf_counter()
                    rendered = Rendered(content, await produce("png", renderer, content, width=ref.width))
                    rendered_at.append(time.perf_counter())
                    spent["fetch"] += fetched - started
                    spent["render"] += rendered_at[-1] - fetched
                    return rendered

                rendered_at.clear()
                return build_pipeline(settings, database, load_and_note, clock=lambda: DUE)

            # Warm the browsers (first page load, fonts, plotly.js) so neither run pays for it.
            await renderer.render_dashboard(await source.get_dashboard(FIRST_DASHBOARD_ID), width=WIDTH)

            await subscribe(database, args.subscriptions, args.dashboards)
            grouped = pipeline()
            seconds, succeeded, sent = await run_once(grouped, database, args.subscriptions, rendered_at, spent,
                                                     standins.process.pid)
            await grouped.aclose()
            counts = await standins.stats()
            posts, uploads, emails = counts["posts"], counts["uploads"], counts["emails"]
            per_grouped = seconds / max(succeeded, 1)
            print(f"\ngrouped by content: {args.subscriptions} subscriptions over {args.dashboards} dashboards")
            print(f"  renders performed:   {grouped.renders} (distinct contents: {args.dashboards})")
            print(f"  deliveries made:     {succeeded} succeeded, {sent} targets sent "
                  f"({posts} Slack messages with {uploads} images, {emails} emails)")
            print(f"  wall time:           {seconds:.1f}s  ({per_grouped * 1000:.1f} ms per delivery)")

            await reset(database)
            await DatabaseInstallationStore(database).async_save(Installation(
                app_id="A0APP", team_id=TEAM, team_name="Bench", user_id="UADMIN", bot_token=TOKEN,
                bot_id="BBENCH", bot_user_id="UBOTBENCH", bot_scopes="commands,chat:write,files:write",
            ))
            await standins.reset()
            # A width of its own per subscription: no two share a rendered image.
            widths = [WIDTH - args.slice // 2 + i for i in range(args.slice)]
            await subscribe(database, args.slice, args.dashboards, widths=widths, prefix="x")
            alone = pipeline()
            seconds, succeeded, sent = await run_once(alone, database, args.slice, rendered_at, spent,
                                                     standins.process.pid)
            await alone.aclose()
            per_alone = seconds / max(succeeded, 1)
            print(f"\nrender per subscription: {args.slice} subscriptions, each its own image width")
            print(f"  renders performed:   {alone.renders}")
            print(f"  deliveries made:     {succeeded} succeeded, {sent} targets sent "
                  f"({(counts := await standins.stats())['posts']} Slack messages, {counts['emails']} emails)")
            print(f"  wall time:           {seconds:.1f}s  ({per_alone * 1000:.1f} ms per delivery)")

            ratio = per_alone / per_grouped
            print(f"\nper-delivery cost, render per subscription / grouped: {ratio:.1f}x "
                  f"(target: at least 10x) {'OK' if ratio >= 10 else 'BELOW TARGET'}")
            ok = grouped.renders == args.dashboards and alone.renders == args.slice and ratio >= 10
    finally:
        await standins.stop()
        await database.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
