"""Load benchmark: 2 `serve` + 3 `worker` processes on one PostgreSQL, 10,000 subscriptions falling due within ten
minutes, counted where the messages arrive.

    .venv/bin/python bench/load.py [--subscriptions 10000] [--window-seconds 600] [--database load]
                                   [--commands-per-second 1] [--timeout-seconds N] [--scale 1] [--poll-seconds 5]
                                   [--lease-seconds N]

A quick run: `.venv/bin/python bench/load.py --subscriptions 1000 --window-seconds 60`.

What runs, each in a process of its own, as in production: two `python app.py serve` (two ports) and three
`python app.py worker`, one browser session each (RENDER_POOL_SIZE=1), all on one PostgreSQL database (dropped and
created again at every run, then migrated with `app.py db upgrade`; never the test suite's database `test`); the
Slack Web API and an SMTP server stand in from bench/standins.py, which counts what each channel and each inbox
received. The subscriptions (half to a Slack channel, half by email, a fifth of those to two recipients; daily or
weekly in six time zones; over three insights and a four-tile dashboard of the bundled demo project) fall due at
the whole minutes of the window, the same number at each. The bench waits until every occurrence is finished (or
--timeout-seconds), however long that takes, and prints:

- deliveries per minute: finished deliveries over the time from the first due minute to the last one finished,
  and the busiest minute;
- claim lag p50/p99: a delivery's claim (`started_at`) minus the time it was due (`scheduled_for`);
- duplicates and losses, counted at the stand-ins: a channel posted to or an inbox mailed more than once for its
  one occurrence, and a target that received nothing;
- slash-command acknowledgement p50/p99: signed `/posthog list` and `/posthog help` sent to the two `serve`
  processes at a steady rate (alternately), from before the first due minute (idle) until the last delivery
  (under load); the time to the HTTP response, which is Slack's acknowledgement (Slack gives up after 3 s);
- what an acknowledgement waits on besides its own work, probed once a second: each process's /healthz (how far
  behind its event loop is), the Slack stand-in, and PostgreSQL;
- deliveries taken over after their lease lapsed (DELIVERY_LEASE_SECONDS) while their process still ran them.

It exits 1 unless every occurrence was delivered once and only once.

Every process is stopped at the end, also on Ctrl-C or a failure: SIGTERM, then SIGKILL of its process group, then
of any browser it started that is left. Logs are kept in a temporary folder, named in the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import hashlib
import hmac
import itertools
import json
import math
import os
import shlex
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
_TMP = Path(tempfile.mkdtemp(prefix="bench-load-"))
os.environ.setdefault("SECRET_KEY", "bench-load-secret-key")
os.environ.setdefault("POSTHOG_EXPORTS_VAR_DIR", str(_TMP / "var-bench"))
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from slack_sdk.oauth.installation_store import Installation  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from standins import free_port, percentile  # noqa: E402  (bench/ is this script's folder)

from bot import DatabaseInstallationStore  # noqa: E402
from bot.installation_store import find_workspace  # noqa: E402
from core.db import Database  # noqa: E402
from core.models import Delivery, DeliveryTarget  # noqa: E402
from core.schedule_phrases import parse_schedule  # noqa: E402
from core.subscriptions import create_subscription, demo_connection  # noqa: E402

TEAM, TOKEN = "T1", "xoxb-bench-token"
SIGNING_SECRET = "bench-load-signing-secret"
PG = "127.0.0.1:5432"
FINISHED = ("succeeded", "partial", "failed")
# Cheap demo content (as in the multi-worker tests): three single insights and the four-tile "Data team" dashboard.
CONTENTS = [("insight", "1001"), ("insight", "1003"), ("insight", "1005"), ("dashboard", "44")]
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Los_Angeles"]
CREATORS = 100  # subscriptions are made by U0000..U0099; slash commands come from them
START_SECONDS = 180  # for the processes to start (each starts Chromium; 2 cores are shared by five)
STOP_SECONDS = 45  # SIGTERM to SIGKILL (above SHUTDOWN_TIMEOUT_SECONDS)
ACK_LIMIT = 3.0  # Slack shows the user an error when a command is not acknowledged within 3 s
PR_SET_PDEATHSIG = 1


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _die_with_parent() -> None:
    """In the child before exec: its own process group (Ctrl-C is ours to handle), and SIGTERM should the bench
    itself be killed."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# --- processes ---------------------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The start time of `pid` (field 22 of /proc/PID/stat), to tell a process from a later one of the same id;
    None when there is no such process, or only its exit status waiting to be collected (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                found[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
    return found


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    log: Path
    port: int | None = None  # the web port of a `serve`
    health_port: int | None = None  # where its /healthz answers: a serve's web port, a worker's METRICS_PORT

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


@dataclass
class Fleet:
    """The five service processes; remembers every process they start (chromedriver, Chromium) to leave none."""

    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)
    descendants: dict[int, str] = field(default_factory=dict)  # pid -> start time
    _watch: asyncio.Task | None = None

    async def start(self, name: str, args: list[str], *, port: int | None = None, health_port: int | None = None,
                    **env: str) -> Proc:
        path = _TMP / f"{name}.log"
        with path.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "app.py", *args, cwd=REPO, env={**self.env, **env}, stdout=out, stderr=out,
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent,
            )
        proc = Proc(name, process, path, port, health_port)
        self.procs.append(proc)
        if self._watch is None:
            self._watch = asyncio.create_task(self._track())
        return proc

    def note_descendants(self) -> None:
        parents = _parents()
        ours = {p.process.pid for p in self.procs} | set(self.descendants)
        changed = True
        while changed:
            changed = False
            for pid, parent in parents.items():
                if parent in ours and pid not in ours:
                    ours.add(pid)
                    started = _start_time(pid)
                    if started is not None:
                        self.descendants[pid] = started
                    changed = True

    async def _track(self) -> None:
        while True:
            self.note_descendants()
            await asyncio.sleep(2)

    async def until_started(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not all("started (poll every" in p.text() for p in self.procs):
            self.check_alive()
            if time.monotonic() > deadline:
                late = [p.name for p in self.procs if "started (poll every" not in p.text()]
                raise SystemExit(f"{', '.join(late)} did not start within {START_SECONDS}s:\n"
                                 + "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs if p.name in late))
            await asyncio.sleep(0.5)
        self.note_descendants()

    def check_alive(self) -> None:
        dead = [p for p in self.procs if p.process.returncode is not None]
        if dead:
            raise SystemExit("\n".join(f"{p.name} exited ({p.process.returncode}):\n{p.tail()}" for p in dead))

    async def stop(self) -> list[str]:
        """SIGTERM (a graceful stop), SIGKILL of the process group of whoever is left, then of any descendant left;
        returns what had to be killed."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        self.note_descendants()
        for p in self.procs:
            if p.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.process.send_signal(signal.SIGTERM)
        killed = []
        for p in self.procs:
            try:
                await asyncio.wait_for(p.process.wait(), STOP_SECONDS)
            except TimeoutError:
                killed.append(f"{p.name} (pid {p.process.pid}) after {STOP_SECONDS}s")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.process.pid, signal.SIGKILL)
                await p.process.wait()
        # Browsers go with their process (chromedriver is told when its parent dies); give them a moment.
        for _ in range(20):
            if not self.leftovers():
                break
            await asyncio.sleep(0.25)
        for pid in self.leftovers():
            killed.append(f"descendant pid {pid} ({_command(pid)})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(20):
            if not self.leftovers():
                break
            await asyncio.sleep(0.25)
        return killed

    def leftovers(self) -> list[int]:
        return [pid for pid, started in self.descendants.items() if _start_time(pid) == started]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "?"


class StandIns:
    """bench/standins.py in a process of its own: the Slack Web API and an SMTP server that count what arrives."""

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
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent,
        )
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise SystemExit(f"bench/standins.py exited ({await process.wait()}) before printing its addresses")
        return cls(process, json.loads(line))

    async def get(self, path: str) -> dict:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}{path}") as response:
            return await response.json()

    async def stop(self) -> None:
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


# --- the database and the subscriptions ----------------------------------------------------------------------


async def recreate_database(name: str) -> str:
    if name == "test":
        raise SystemExit("the database `test` belongs to the test suite; pick another --database")
    connection = await asyncpg.connect(f"postgresql://postgres@{PG}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = f"postgresql+asyncpg://postgres@{PG}/{name}"
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", "db", "upgrade", cwd=REPO, env={**os.environ, "DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await migrate.communicate()
    if migrate.returncode != 0:
        raise SystemExit(f"app.py db upgrade failed:\n{output.decode(errors='replace')}")
    return url


@dataclass
class Plan:
    due: dict[int, datetime]  # subscription id -> its one occurrence in the window
    targets: dict[tuple[str, str], int]  # (kind, channel or lower-case address) -> subscription id
    channels: list[str]  # Slack channels with a subscription (where slash commands are typed)


async def subscribe(database: Database, count: int, first_due: datetime, minutes: int) -> Plan:
    """`count` subscriptions; subscription i falls due at minute i % minutes of the window, in a zone of its own,
    daily or weekly. Made the way every door makes them (core.subscriptions.create_subscription)."""
    plan = Plan({}, {}, [])
    async with database.transaction() as session:
        workspace = await find_workspace(session, TEAM)
        connection_id, workspace_id = (await demo_connection(session, workspace.id)).id, workspace.id
    schedules = {}
    for i in range(0, count, 1000):
        async with database.transaction() as session:
            connection = await demo_connection(session, workspace_id)
            assert connection.id == connection_id
            for n in range(i, min(count, i + 1000)):
                due = first_due + timedelta(minutes=n % minutes)
                zone = ZONES[n % len(ZONES)]
                weekly = (n // len(ZONES)) % 2 == 1
                key = (due, zone, weekly)
                if key not in schedules:
                    local = due.astimezone(ZoneInfo(zone))
                    phrase = (f"weekly on {local:%A} at {local:%H:%M}" if weekly else f"daily at {local:%H:%M}").lower()
                    schedules[key] = parse_schedule(phrase, zone, today=local.date())
                content_type, ref = CONTENTS[n % len(CONTENTS)]
                if n % 2 == 0:
                    channel = f"C{n:05d}"
                    target = dict(target_type="slack", slack_channel_id=channel, slack_channel_name=f"load-{n:05d}")
                    keys = [("slack", channel)]
                    plan.channels.append(channel)
                else:
                    addresses = [f"r{n:05d}@example.com"] + ([f"r{n:05d}-cc@example.com"] if n % 10 == 1 else [])
                    target = dict(target_type="email", email_recipients=addresses)
                    keys = [("email", a) for a in addresses]
                subscription = await create_subscription(
                    session, connection=connection, content_type=content_type, content_ref=ref,
                    schedule=schedules[key], workspace_id=workspace_id,
                    created_by_slack_user=f"U{n % CREATORS:04d}", now=datetime.now(UTC), **target,
                )
                if subscription.next_delivery_at != due:
                    raise SystemExit(f"subscription {n} ({schedules[key]}) falls due at "
                                     f"{subscription.next_delivery_at}, not {due}")
                plan.due[subscription.id] = due
                for k in keys:
                    plan.targets[k] = subscription.id
    return plan


async def install_workspace(database: Database) -> None:
    await DatabaseInstallationStore(database).async_save(Installation(
        app_id="A0APP", team_id=TEAM, team_name="Bench", user_id="UADMIN", bot_token=TOKEN, bot_id="BBENCH",
        bot_user_id="UBOTBENCH", bot_scopes="commands,chat:write,files:write",
    ))


# --- slash commands ----------------------------------------------------------------------------------------


@dataclass
class Ack:
    sent_at: datetime
    command: str
    port: int
    seconds: float
    ok: bool
    problem: str = ""


class SlashCommands:
    """Signed `/posthog list` and `/posthog help`, alternately to each `serve`, at a steady rate (each sent on
    time, whether or not the previous one was answered)."""

    def __init__(self, ports: list[int], channels: list[str], per_second: float, respond_url: str) -> None:
        self.ports = ports
        self.channels = channels
        self.respond_url = respond_url  # where a command's answer after its ack goes (`list` answers there)
        self.interval = 1.0 / per_second
        self.acks: list[Ack] = []
        self._tasks: set[asyncio.Task] = set()
        self._serial = itertools.count()

    def body(self, text: str, n: int) -> str:
        channel = self.channels[(n * 7919) % len(self.channels)]
        user = f"U{n % CREATORS:04d}"
        return urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "bench", "channel_id": channel,
            "channel_name": f"load-{channel[1:]}", "user_id": user, "user_name": user.lower(), "command": "/posthog",
            "text": text, "api_app_id": "A0APP", "is_enterprise_install": "false",
            "response_url": self.respond_url, "trigger_id": f"trigger-{n}",
        })

    async def one(self, session: aiohttp.ClientSession, n: int) -> None:
        text = "list" if n % 2 == 0 else "help"
        port = self.ports[(n // 2) % len(self.ports)]
        body = self.body(text, n)
        ts = int(time.time())
        signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
                   "X-Slack-Signature": signature}
        sent_at, started = datetime.now(UTC), time.perf_counter()
        try:
            async with session.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                    headers=headers) as response:
                answer = await response.text()
            seconds = time.perf_counter() - started
            expected = "Looking up the subscriptions" if text == "list" else "PostHog in Slack"
            problem = "" if response.status == 200 and expected in answer else f"HTTP {response.status}: {answer[:80]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            seconds, problem = time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:120]
        self.acks.append(Ack(sent_at, text, port, seconds, not problem, problem))

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
            next_at = time.monotonic()
            while not stop.is_set():
                task = asyncio.create_task(self.one(session, next(self._serial)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                next_at += self.interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
            await asyncio.gather(*self._tasks, return_exceptions=True)


class Probe:
    """Once a second, what a slash command waits on besides its own work: GET /healthz of every process (how far
    behind its event loop is: the same loop answers Slack, runs the scheduler and renews the leases of running
    deliveries), GET of the Slack stand-in (which answers the command's auth.test and users.* calls) and
    `SELECT 1` on PostgreSQL from a connection of the bench's own."""

    def __init__(self, procs: list[Proc], standins: StandIns, database: Database) -> None:
        self.urls = {p.name: f"http://127.0.0.1:{p.health_port}/healthz" for p in procs if p.health_port}
        self.urls["standins"] = f"{standins.base}/bench/stats"
        self.database = database
        self.samples: list[tuple[datetime, str, float]] = []  # (sent at, what, seconds; inf: no answer)

    async def one(self, session: aiohttp.ClientSession, name: str, url: str) -> None:
        sent_at, started = datetime.now(UTC), time.perf_counter()
        try:
            async with session.get(url) as response:
                await response.read()
            seconds = time.perf_counter() - started if response.status == 200 else math.inf
        except (aiohttp.ClientError, TimeoutError):
            seconds = math.inf
        self.samples.append((sent_at, name, seconds))

    async def query(self) -> None:
        sent_at, started = datetime.now(UTC), time.perf_counter()
        try:
            async with self.database.session() as session:
                await session.execute(text("SELECT 1"))
            seconds = time.perf_counter() - started
        except Exception:  # noqa: BLE001 - counted as unanswered
            seconds = math.inf
        self.samples.append((sent_at, "postgresql", seconds))

    async def run(self, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task] = set()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            while not stop.is_set():
                for coroutine in [*(self.one(session, n, u) for n, u in self.urls.items()), self.query()]:
                    task = asyncio.create_task(coroutine)
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            await asyncio.gather(*tasks, return_exceptions=True)

    def line(self, kind: str, since: datetime) -> str:
        seconds = [s for at, name, s in self.samples if at >= since and name.startswith(kind)]
        answered = [s for s in seconds if math.isfinite(s)]
        return (f"p50 {fmt(percentile(answered, 50) * 1000, ' ms')}, p99 {fmt(percentile(answered, 99) * 1000, ' ms')}"
                f", max {fmt(max(answered, default=math.nan) * 1000, ' ms')} ({len(seconds)} probes, "
                f"{len(seconds) - len(answered)} unanswered)")


# --- waiting and counting ----------------------------------------------------------------------------------


async def status_counts(database: Database) -> Counter:
    async with database.session() as session:
        return Counter((await session.scalars(select(Delivery.status))).all())


async def wait_until_done(database: Database, fleet: Fleet, expected: int, last_due: datetime,
                          deadline: float) -> bool:
    """Until every due occurrence is finished; False on the time-out."""
    next_report = 0.0
    while True:
        fleet.check_alive()
        statuses = await status_counts(database)
        finished = sum(statuses[s] for s in FINISHED)
        now = time.monotonic()
        if now >= next_report:
            load = Path("/proc/loadavg").read_text().split()[0]
            log(f"recorded {sum(statuses.values())}/{expected}, finished {finished} "
                f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); load average {load}")
            next_report = now + 30
        if finished >= expected and datetime.now(UTC) > last_due:
            return True
        if now > deadline:
            return False
        await asyncio.sleep(2)


@dataclass
class Row:
    subscription_id: int
    scheduled_for: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    attempts: int
    claimed_by: str | None


async def delivery_rows(database: Database) -> tuple[list[Row], Counter]:
    async with database.session() as session:
        rows = [Row(d.subscription_id, d.scheduled_for, d.started_at, d.finished_at, d.status, d.attempts, d.claimed_by)
                for d in await session.scalars(select(Delivery))]
        targets = Counter((await session.scalars(select(DeliveryTarget.status))).all())
    return rows, targets


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def fmt(value: float, unit: str = "s") -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}{unit}" if value >= 10 else f"{value:.2f}{unit}"


def ack_line(acks: list[Ack]) -> str:
    seconds = [a.seconds for a in acks if a.ok]
    failed = sum(1 for a in acks if not a.ok)
    slow = sum(1 for a in acks if a.seconds > ACK_LIMIT)
    return (f"{len(acks)} sent, p50 {fmt(percentile(seconds, 50) * 1000, ' ms')}, "
            f"p99 {fmt(percentile(seconds, 99) * 1000, ' ms')}, max {fmt(max(seconds, default=math.nan) * 1000, ' ms')}"
            f", over {ACK_LIMIT:g} s: {slow}, failed: {failed}")


# --- main --------------------------------------------------------------------------------------------------


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--window-seconds", type=int, default=600,
                        help="the subscriptions fall due at the whole minutes of this window")
    parser.add_argument("--database", default="load", help="PostgreSQL database, dropped and created again")
    parser.add_argument("--commands-per-second", type=float, default=1.0)
    parser.add_argument("--timeout-seconds", type=float, default=None,
                        help="give up this long after the first due minute (default: the window + 1 hour)")
    parser.add_argument("--scale", type=float, default=1.0, help="RENDER_SCALE of the images")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="SCHEDULER_POLL_SECONDS")
    parser.add_argument("--lease-seconds", type=int, default=None,
                        help="DELIVERY_LEASE_SECONDS (default: the service's own, 300)")
    args = parser.parse_args()
    command_line = shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])
    minutes = max(1, args.window_seconds // 60)
    timeout = args.timeout_seconds or args.window_seconds + 3600

    log(f"logs and state in {_TMP}")
    url = await recreate_database(args.database)
    database = Database(url)
    await install_workspace(database)
    standins = await StandIns.start()
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(_TMP)), "LANG": "C.UTF-8",
        "DATABASE_URL": url, "SECRET_KEY": os.environ["SECRET_KEY"],
        "SLACK_API_URL": standins.slack_api_url, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "EMAIL_TRANSPORT": "smtp", "SMTP_HOST": standins.smtp_host, "SMTP_PORT": str(standins.smtp_port),
        "SMTP_SECURITY": "none", "EMAIL_FROM": "PostHog Reports <reports@bench.example>",
        "RENDER_POOL_SIZE": "1", "RENDER_SCALE": f"{args.scale:g}", "SCHEDULER_POLL_SECONDS": f"{args.poll_seconds:g}",
        "LOG_LEVEL": "INFO", "SHUTDOWN_TIMEOUT_SECONDS": "20",
        **({"DELIVERY_LEASE_SECONDS": str(args.lease_seconds)} if args.lease_seconds else {}),
    }
    fleet = Fleet(env)
    stop_commands = asyncio.Event()
    commands: SlashCommands | None = None
    commanding: asyncio.Task | None = None
    probing: asyncio.Task | None = None
    ok = False
    try:
        for n in (1, 2):
            port = free_port()
            await fleet.start(f"serve-{n}", ["serve", "--host", "127.0.0.1", "--port", str(port)], port=port,
                              health_port=port, POSTHOG_EXPORTS_VAR_DIR=str(_TMP / f"var-serve-{n}"), METRICS_PORT="0",
                              PUBLIC_URL=f"http://127.0.0.1:{port}")
        for n in (1, 2, 3):
            metrics_port = free_port()
            await fleet.start(f"worker-{n}", ["worker"], health_port=metrics_port,
                              POSTHOG_EXPORTS_VAR_DIR=str(_TMP / f"var-worker-{n}"), METRICS_PORT=str(metrics_port))
        started = time.monotonic()
        await fleet.until_started()
        log(f"2 serve + 3 worker processes started in {time.monotonic() - started:.0f}s")

        # The first due minute leaves time to record every subscription (1 to 3 ms each) and some idle commands.
        margin = timedelta(seconds=20 + args.subscriptions * 0.003)
        first_due = (datetime.now(UTC) + margin + timedelta(minutes=1)).replace(second=0, microsecond=0)
        last_due = first_due + timedelta(minutes=minutes - 1)
        began = time.monotonic()
        plan = await subscribe(database, args.subscriptions, first_due, minutes)
        recorded_at = datetime.now(UTC)
        log(f"{args.subscriptions} subscriptions recorded in {time.monotonic() - began:.0f}s; due from "
            f"{first_due:%H:%M:%S} to {last_due:%H:%M:%S} UTC, {(first_due - recorded_at).total_seconds():.0f}s "
            f"after the last was recorded")
        if recorded_at >= first_due:
            log("!! the subscriptions were recorded after their first due minute: claim lags include that")

        commands = SlashCommands([p.port for p in fleet.procs if p.port], plan.channels, args.commands_per_second,
                                 f"{standins.base}/bench/respond")
        commanding = asyncio.create_task(commands.run(stop_commands))
        probe = Probe(fleet.procs, standins, database)
        probing = asyncio.create_task(probe.run(stop_commands))
        deadline = time.monotonic() + (first_due - datetime.now(UTC)).total_seconds() + timeout
        done = await wait_until_done(database, fleet, len(plan.due), last_due, deadline)
        ended = datetime.now(UTC)
        stop_commands.set()
        await asyncio.gather(commanding, probing)
        if not done:
            log(f"!! gave up after {timeout:.0f}s: not every due occurrence is finished")

        rows, target_statuses = await delivery_rows(database)
        received = await standins.get("/bench/targets")
        stats = await standins.get("/bench/stats")
        ok = report(args, command_line, Run(plan, fleet, commands, probe, first_due, last_due, ended, done, rows,
                                            target_statuses, received, stats))
    finally:
        stop_commands.set()
        for task in (commanding, probing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        killed = await fleet.stop()
        await standins.stop()
        await database.dispose()
        left = fleet.leftovers()
        log(f"stopped every process{': had to kill ' + '; '.join(killed) if killed else ' (all stopped on SIGTERM)'}"
            f"{'; STILL RUNNING: ' + ', '.join(map(str, left)) if left else ''}")
    return 0 if ok else 1


@dataclass
class Run:
    """What one run saw, for the summary."""

    plan: Plan
    fleet: Fleet
    commands: SlashCommands
    probe: Probe
    first_due: datetime
    last_due: datetime
    ended: datetime
    done: bool  # every due occurrence finished before the time-out
    rows: list[Row]
    target_statuses: Counter
    received: dict  # the stand-ins' /bench/targets
    stats: dict  # the stand-ins' /bench/stats


def report(args, command_line: str, run: Run) -> bool:
    """Print the summary; True when every occurrence was delivered once and only once."""
    plan, fleet, commands, probe, first_due, last_due = (
        run.plan, run.fleet, run.commands, run.probe, run.first_due, run.last_due)
    rows, received, stats = run.rows, run.received, run.stats
    statuses = Counter(r.status for r in rows)
    finished = [r for r in rows if r.status in FINISHED and r.finished_at is not None]
    lags = [s for r in rows if (s := seconds_between(r.scheduled_for, r.started_at)) is not None]
    through = [s for r in finished if (s := seconds_between(r.scheduled_for, r.finished_at)) is not None]
    last_finished = max((r.finished_at for r in finished), default=None)
    span = (last_finished - first_due).total_seconds() / 60 if last_finished else math.nan
    per_minute = Counter(int((r.finished_at - first_due).total_seconds() // 60) for r in finished)
    claimers = Counter((r.claimed_by or "-").rsplit(":", 1)[-1] for r in rows)
    pid_names = {str(p.process.pid): p.name for p in fleet.procs}

    # Counted at the stand-ins: what each target received.
    counts = {("slack", k): v for k, v in received["slack"].items()}
    counts.update({("email", k): v for k, v in received["email"].items()})
    duplicates = {t: n for t, n in counts.items() if t in plan.targets and n > 1}
    lost = [t for t in plan.targets if counts.get(t, 0) == 0]
    strangers = {t: n for t, n in counts.items() if t not in plan.targets}
    per_subscription = Counter(r.subscription_id for r in rows)
    recorded_twice = sum(1 for n in per_subscription.values() if n > 1)
    not_recorded = sum(1 for s in plan.due if s not in per_subscription)
    lost_subscriptions = {plan.targets[t] for t in lost}

    load_during = [a for a in commands.acks if a.sent_at >= first_due]
    idle = [a for a in commands.acks if a.sent_at < first_due]
    problems = Counter(a.problem for a in commands.acks if not a.ok)
    errors = {p.name: sum(1 for line in p.text().splitlines() if " ERROR " in line or "Traceback" in line)
              for p in fleet.procs}
    takeovers = {p.name: p.text().count("taking it over") for p in fleet.procs}
    lost_leases = {p.name: p.text().count("is no longer ours") for p in fleet.procs}

    slack_subs = sum(1 for t in plan.targets if t[0] == "slack")
    email_targets = len(plan.targets) - slack_subs
    lines = [
        "",
        "=" * 100,
        f"bench/load.py: {command_line}",
        f"  {len(plan.due)} subscriptions ({slack_subs} to Slack channels, {len(plan.due) - slack_subs} by email to "
        f"{email_targets} recipients) due at {first_due:%H:%M}..{last_due:%H:%M} UTC ({args.window_seconds}s window, "
        f"{len(plan.due) // max(1, len(set(plan.due.values())))} a minute)",
        f"  2 serve + 3 worker processes on PostgreSQL database {args.database!r}, one browser each, RENDER_SCALE "
        f"{args.scale:g}, SCHEDULER_POLL_SECONDS {args.poll_seconds:g}; {os.cpu_count()} CPU cores, shared",
        "",
        f"deliveries           {len(finished)} finished of {len(plan.due)} due"
        f" ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
        + ("" if run.done else "  !! TIMED OUT"),
        f"  targets (database) {', '.join(f'{k} {v}' for k, v in sorted(run.target_statuses.items()))}",
        f"  per minute         {len(finished) / span:.0f} (first due minute to the last finished, {span:.1f} min); "
        f"busiest minute {max(per_minute.values(), default=0)}",
        f"  by minute          {' '.join(str(per_minute.get(m, 0)) for m in range(max(per_minute, default=-1) + 1))}",
        f"  claimed by         {', '.join(f'{pid_names.get(k, k)} {v}' for k, v in sorted(claimers.items()))}",
        f"claim lag            p50 {fmt(percentile(lags, 50))}, p99 {fmt(percentile(lags, 99))}, "
        f"max {fmt(max(lags, default=math.nan))}  (started_at - scheduled_for)",
        f"due to finished      p50 {fmt(percentile(through, 50))}, p99 {fmt(percentile(through, 99))}, "
        f"max {fmt(max(through, default=math.nan))}",
        f"duplicates           {len(duplicates)} targets received more than once "
        f"({sum(duplicates.values()) - len(duplicates)} extra messages)",
        f"losses               {len(lost)} targets received nothing ({len(lost_subscriptions)} subscriptions)",
        f"  at the stand-ins   {stats['posts']} Slack messages with {stats['uploads']} images, {stats['emails']} emails"
        f"; to no subscription's target: {sum(strangers.values())}",
        f"  in the database    occurrences recorded twice: {recorded_twice}, not recorded: {not_recorded}",
        f"  leases             {sum(takeovers.values())} deliveries taken over after their lease lapsed"
        + ("" if not sum(takeovers.values()) else
           f" (from a process still running them: {', '.join(f'{k} {v}' for k, v in lost_leases.items() if v)})"),
        f"slash commands       {commands.interval and 1 / commands.interval:g}/s, list and help alternately, "
        f"to both serve processes",
        f"  under load         {ack_line(load_during)}",
        f"    list             {ack_line([a for a in load_during if a.command == 'list'])}",
        f"    help             {ack_line([a for a in load_during if a.command == 'help'])}",
        f"  idle (before due)  {ack_line(idle)}",
        f"    list             {ack_line([a for a in idle if a.command == 'list'])}",
        f"    help             {ack_line([a for a in idle if a.command == 'help'])}",
    ]
    if problems:
        lines.append(f"  failures           {dict(problems.most_common(5))}")
    lines += [
        "answer times under load, each probed once a second:",
        f"  serve /healthz     {probe.line('serve', first_due)}",
        f"  worker /healthz    {probe.line('worker', first_due)}",
        f"  Slack stand-in     {probe.line('standins', first_due)}",
        f"  PostgreSQL         {probe.line('postgresql', first_due)}  (SELECT 1)",
    ]
    lines.append(f"log errors           {', '.join(f'{k} {v}' for k, v in errors.items())}  (logs in {_TMP})")
    if duplicates:
        lines.append(f"  duplicated        {sorted(duplicates.items())[:10]}")
    if lost:
        lines.append(f"  lost              {sorted(lost)[:10]}")
    if strangers:
        lines.append(f"  to no target      {sorted(strangers.items())[:10]}")
    lines.append(f"finished at {run.ended:%H:%M:%S} UTC")
    lines.append("=" * 100)
    print("\n".join(lines), flush=True)
    return run.done and not duplicates and not lost and recorded_twice == 0 and not_recorded == 0


async def guarded() -> int:
    try:
        return await main()
    except SystemExit as exc:  # a process that would not start, a failed migration: said, after the clean-up
        if isinstance(exc.code, int):
            return exc.code
        print(f"error: {exc.code}", file=sys.stderr)
        return 2


def run() -> int:
    loop = asyncio.new_event_loop()
    task = loop.create_task(guarded())
    interrupted = False

    def interrupt() -> None:
        # Ctrl-C and SIGTERM cancel the run, once: its `finally` stops every process it started.
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            log("interrupted: stopping every process")
            task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("interrupted; every process was stopped", file=sys.stderr)
        return 130
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(run())
