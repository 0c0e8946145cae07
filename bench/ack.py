"""Slash-command acknowledgement benchmark: signed `/posthog` commands against `serve`, 1,000 subscriptions in the
workspace.

    .venv/bin/python bench/ack.py [--url postgresql+asyncpg://postgres@127.0.0.1:5432/ackbench | --sqlite FILE]
                                  [--subscriptions 1000] [--each 200] [--concurrency 4]

The database (PostgreSQL `ackbench` unless --url or --sqlite say otherwise; created when missing, never the test
suite's `test`) is migrated with `app.py db upgrade` and emptied; one workspace is installed with the demo project
connected and --subscriptions subscriptions inserted many rows a statement: half to Slack channels (50 channels,
so a channel's `list` has some), half by email, made by 100 members. `python app.py serve` then starts in a process
of its own (its browser pool and scheduler too, as in production), with the Slack Web API and a command's
response_url standing in from bench/standins.py in another process.

Sent, signed as Slack signs them, --each of each command, interleaved, --concurrency at a time: `/posthog list`,
`/posthog help` and `/posthog subscribe dashboard 42 weekly`: help is answered in the acknowledgement; list and
subscribe are acknowledged at once, then the list (what the person may see, which asks Slack) and the new
subscription come through the response_url. Timed: from sending the request to its HTTP 200, which is Slack's
acknowledgement (Slack shows the user an error after 3 s). Printed: median, p95, p99 and max per command; the
baseline, measured the same way in the same run: GET /healthz, the same number of times at the same concurrency; and
the goal (p99 at most 100 ms). GET /healthz is also sent every 50 ms while the commands run: how long the event loop
that answers Slack is busy with other work. The answers at the response_url and the subscriptions made are counted
at the end (each `list` and each `subscribe` must answer there, each `subscribe` must make one subscription).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="bench-ack-"))
os.environ.setdefault("SECRET_KEY", "bench-ack-secret-key")
os.environ.setdefault("POSTHOG_EXPORTS_VAR_DIR", str(_TMP / "var-bench"))
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from standins import (  # noqa: E402
    bulk_subscriptions,
    die_with_parent,
    free_port,
    install_workspace,
    migrate,
    percentile,
    signed_headers,
    slash_command,
    start_standins,
    stop_process,
    subscription_row,
)

from core.db import Database, empty_tables  # noqa: E402
from core.models import Subscription  # noqa: E402
from core.schedule_phrases import parse_schedule  # noqa: E402
from core.subscriptions import demo_connection  # noqa: E402

TEAM, TOKEN = "T1", "xoxb-bench-token"
SIGNING_SECRET = "bench-ack-signing-secret"
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/ackbench"
CHANNELS = 50
CREATORS = 100
COMMANDS = {  # text -> what its acknowledgement must say
    "list": "Looking up the subscriptions in this channel",
    "help": "PostHog in Slack",
    "subscribe dashboard 42 weekly": "Looking up dashboard 42",
}
START_SECONDS = 180  # serve starts Chromium; 2 shared cores
GOAL_P99_MS = 100


async def populate(database: Database, count: int) -> None:
    async with database.transaction() as session:
        from bot.installation_store import find_workspace

        workspace = await find_workspace(session, TEAM)
        connection = await demo_connection(session, workspace.id)
        workspace_id, connection_id = workspace.id, connection.id
    now = datetime.now(UTC)
    schedules = [parse_schedule(p, "Europe/London", today=now.date())
                 for p in ("weekly on monday at 9:00", "daily at 8:00", "monthly on the first monday at 10:00")]
    rows = []
    for n in range(count):
        schedule = schedules[n % len(schedules)]
        columns = dict(workspace_id=workspace_id, connection_id=connection_id,
                       content_type="dashboard" if n % 3 else "insight", content_ref=str((42, 43, 44, 1001)[n % 4]),
                       title=f"Bench content {n}", created_by_slack_user=f"U{n % CREATORS:04d}")
        if n % 2 == 0:
            channel = f"C{(n // 2) % CHANNELS:05d}"
            columns.update(target_type="slack", slack_channel_id=channel, slack_channel_name=f"bench-{channel[1:]}",
                           email_recipients=[])
        else:
            columns.update(target_type="email", email_recipients=[f"r{n:05d}@example.com"])
        rows.append(subscription_row(schedule, schedule.next_after(now) or now + timedelta(days=1), **columns))
    await bulk_subscriptions(database, rows)


@dataclass
class Sample:
    what: str
    ms: float
    problem: str = ""


class Client:
    def __init__(self, base: str, respond_url: str) -> None:
        self.base = base
        self.respond_url = respond_url
        self.serial = itertools.count()

    async def command(self, session: aiohttp.ClientSession, text: str) -> Sample:
        n = next(self.serial)
        channel = f"C{n % CHANNELS:05d}"
        body = slash_command(TEAM, channel, f"U{n % CREATORS:04d}", text, n, response_url=self.respond_url)
        headers = signed_headers(SIGNING_SECRET, body)
        started = time.perf_counter()
        async with session.post(f"{self.base}/slack/events", data=body.encode(), headers=headers) as response:
            answer = await response.text()
        ms = (time.perf_counter() - started) * 1000
        ok = response.status == 200 and COMMANDS[text] in answer
        return Sample(text, ms, "" if ok else f"HTTP {response.status}: {answer[:100]}")

    async def healthz(self, session: aiohttp.ClientSession) -> Sample:
        started = time.perf_counter()
        async with session.get(f"{self.base}/healthz") as response:
            await response.read()
        ms = (time.perf_counter() - started) * 1000
        return Sample("GET /healthz", ms, "" if response.status == 200 else f"HTTP {response.status}")


async def run_all(jobs: list, concurrency: int) -> list[Sample]:
    """Run the coroutine factories `jobs`, `concurrency` at a time, in order."""
    queue = list(reversed(jobs))
    samples: list[Sample] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        async def worker() -> None:
            while queue:
                job = queue.pop()
                try:
                    samples.append(await job(session))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    samples.append(Sample("?", float("nan"), f"{type(exc).__name__}: {exc}"[:120]))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def line(name: str, samples: list[Sample]) -> str:
    ms = [s.ms for s in samples if not s.problem]
    failed = len(samples) - len(ms)
    if not ms:
        return f"{name:<40} {len(samples)} sent, all failed"
    p99 = percentile(ms, 99)
    return (f"{name:<40} median {statistics.median(ms):7.1f} ms, p95 {percentile(ms, 95):7.1f} ms, "
            f"p99 {p99:7.1f} ms, max {max(ms):7.1f} ms ({len(samples)} sent, {failed} failed)")


async def probe_loop(client: Client, stop: asyncio.Event, every: float = 0.05) -> list[Sample]:
    """GET /healthz every `every` seconds until `stop`: how long the event loop that answers Slack is busy with
    other work (the work each command continues after its acknowledgement, the scheduler, the renderer)."""
    samples = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while not stop.is_set():
            samples.append(await client.healthz(session))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    return samples


async def wait_until_serving(process, log_path: Path, base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            if process.returncode is not None:
                raise SystemExit(f"serve exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            if "started (poll every" in log_path.read_text(errors="replace"):
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"serve did not start within {START_SECONDS}s:\n{log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.5)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (created when missing, migrated)")
    parser.add_argument("--sqlite", default=None, help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--each", type=int, default=200, help="commands of each kind")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--asyncio-debug", action="store_true",
                        help="run serve with PYTHONASYNCIODEBUG=1 and print what held its event loop over 100 ms")
    args = parser.parse_args()
    url = f"sqlite+aiosqlite:///{Path(args.sqlite).resolve()}" if args.sqlite else args.url
    command_line = shlex.join([".venv/bin/python", "bench/ack.py", *sys.argv[1:]])

    await migrate(url)
    database = Database(url)
    await empty_tables(database)
    await install_workspace(database, TEAM, TOKEN)
    await populate(database, args.subscriptions)
    standins, addresses = await start_standins(TOKEN, TEAM)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = _TMP / "serve.log"
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(_TMP)), "LANG": "C.UTF-8",
        "DATABASE_URL": url, "SECRET_KEY": os.environ["SECRET_KEY"], "POSTHOG_EXPORTS_VAR_DIR": str(_TMP / "var"),
        "SLACK_API_URL": addresses["slack_api_url"], "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "EMAIL_TRANSPORT": "smtp", "SMTP_HOST": addresses["smtp_host"], "SMTP_PORT": str(addresses["smtp_port"]),
        "SMTP_SECURITY": "none", "EMAIL_FROM": "PostHog Reports <reports@bench.example>",
        "RENDER_POOL_SIZE": "1", "LOG_LEVEL": "INFO", "SHUTDOWN_TIMEOUT_SECONDS": "10", "METRICS_PORT": "0",
        "PUBLIC_URL": base, **({"PYTHONASYNCIODEBUG": "1"} if args.asyncio_debug else {}),
    }
    with log_path.open("wb") as out:
        serve = await asyncio.create_subprocess_exec(
            sys.executable, "app.py", "serve", "--host", "127.0.0.1", "--port", str(port), cwd=REPO, env=env,
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent,
        )
    try:
        await wait_until_serving(serve, log_path, base)
        client = Client(base, f"{addresses['slack_base']}/bench/respond")
        # Warm-up, not counted: the first request of each kind loads what it needs.
        await run_all([lambda s, t=t: client.command(s, t) for t in COMMANDS] + [client.healthz], 1)
        texts = [t for _ in range(args.each) for t in COMMANDS]
        loaded = asyncio.Event()
        probing = asyncio.create_task(probe_loop(client, loaded))
        samples = await run_all([lambda s, t=t: client.command(s, t) for t in texts], args.concurrency)
        loaded.set()
        during = await probing
        baseline = await run_all([client.healthz] * args.each, args.concurrency)
        # The work after the ack (each subscribe makes a subscription and answers at the response_url) ends.
        async with aiohttp.ClientSession() as session:
            for _ in range(120):
                async with session.get(f"{addresses['slack_base']}/bench/stats") as response:
                    stats = await response.json()
                if stats["responses"] >= 2 * (args.each + 1):
                    break
                await asyncio.sleep(0.5)
        async with database.session() as session:
            made = await session.scalar(select(func.count()).select_from(Subscription)) - args.subscriptions
    finally:
        killed = await stop_process(serve)
        standins.stdin.close()
        await stop_process(standins)
        await database.dispose()

    acks = [s for s in samples if not s.problem]
    worst = percentile([s.ms for s in acks], 99)
    print()
    print("=" * 100)
    print(f"bench/ack.py: {command_line}")
    print(f"  serve on {database.engine.dialect.name} ({url.rsplit('/', 1)[-1]}), {args.subscriptions} "
          f"subscriptions in the workspace; {args.each} of each command, {args.concurrency} at a time; "
          f"{os.cpu_count()} CPU cores, shared")
    for text in COMMANDS:
        print(line(f"/posthog {text}", [s for s in samples if s.what == text]))
    print(line("all commands", samples))
    print(line("baseline: GET /healthz", baseline))
    print(line("GET /healthz during the commands", during))
    print(f"ratio all commands / baseline (medians): "
          f"{statistics.median(s.ms for s in acks) / statistics.median(s.ms for s in baseline if not s.problem):.1f}x")
    print(f"after the acks: {made} subscriptions made by {args.each + 1} subscribe commands; {stats['responses']} "
          f"answers at the response_url to {2 * (args.each + 1)} list and subscribe commands")
    problems = [s.problem for s in samples if s.problem]
    if problems:
        print(f"failures: {problems[:3]}")
    print(f"goal: p99 at most {GOAL_P99_MS} ms: {'OK' if worst <= GOAL_P99_MS else 'OVER'} ({worst:.1f} ms)")
    if args.asyncio_debug:
        held = [ln for ln in log_path.read_text(errors="replace").splitlines() if "Executing" in ln and " took " in ln]
        print(f"event loop held over 100 ms (asyncio debug, which slows everything): {len(held)} times")
        for ln in held[:15]:
            print("  " + ln[-300:])
    print(f"serve's log: {log_path}{' (it had to be killed)' if killed else ''}")
    print("=" * 100)
    complete = made == args.each + 1 and stats["responses"] == 2 * (args.each + 1)
    return 0 if not problems and complete else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
