"""Claim benchmark: a claim batch of due subscriptions among 100,000, on PostgreSQL, with its query plan.

    .venv/bin/python bench/claim.py [--url postgresql+asyncpg://postgres@127.0.0.1:5432/claimbench]
                                    [--subscriptions 100000] [--due 200] [--rounds 30]

The database of --url is created when missing (never the test suite's `test`), migrated with `app.py db upgrade`
and emptied. Then, inserted many rows a statement: --subscriptions subscriptions in one workspace (half to Slack
channels, half by email; daily, weekly and monthly in several time zones), of which --due are due at the bench's
clock, a tenth are paused (some of them overdue: a paused subscription is never claimed) and a few deleted.

Each round runs the scheduler's own claim (scheduler/claiming.py `claim_due_subscriptions`, with the policy the
worker builds from its settings, its batch set to --due as the service does with the room it has), which records
a running Delivery with its targets per due subscription and moves each to its next occurrence; between rounds
(not timed) those deliveries are deleted and the subscriptions made due again, so every round claims the same ones.

Printed: the median and p95 of a claim batch, `EXPLAIN (ANALYZE, BUFFERS)` of the claim's SELECT (the statement
the function runs, `due_subscriptions` with FOR UPDATE SKIP LOCKED) and whether it uses ix_subscriptions_due; and,
in the same run, the baseline: the same claim in sessions that may not use an index scan
(`enable_indexscan = off`, `enable_bitmapscan = off`: its SELECT scans the table, and so does the foreign-key
check of each new delivery), with its plan and the ratio; then the claim's SELECT alone, timed both ways, to
tell the query from the work the claim does per subscription (its schedule, then one statement writing the
Delivery rows, their targets and the next occurrences).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="bench-claim-"))
os.environ.setdefault("SECRET_KEY", "bench-claim-secret-key")
os.environ.setdefault("POSTHOG_EXPORTS_VAR_DIR", str(_TMP / "var"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, text, update  # noqa: E402
from standins import bulk_subscriptions, install_workspace, migrate, percentile, subscription_row  # noqa: E402

from core.db import Database, empty_tables  # noqa: E402
from core.models import Delivery, Subscription  # noqa: E402
from core.schedule_phrases import parse_schedule  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.subscriptions import demo_connection  # noqa: E402
from scheduler.assembly import claim_policy  # noqa: E402
from scheduler.claiming import claim_due_subscriptions, due_subscriptions  # noqa: E402

TEAM, TOKEN = "T1", "xoxb-bench-token"
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/claimbench"
NOW = datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC)  # the bench's clock: a Monday, 30 s after 09:00 UTC
DUE_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # when the due subscriptions fell due (their last occurrence)
WARM_UP = 2  # rounds run first and not counted (connections, statement caches)
NO_INDEX = {"enable_indexscan": "off", "enable_bitmapscan": "off"}


async def populate(database: Database, count: int, due: int) -> list[int]:
    """`count` subscriptions, `due` of them due at NOW; returns the ids of the due ones."""
    async with database.transaction() as session:
        from bot.installation_store import find_workspace

        workspace = await find_workspace(session, TEAM)
        connection = await demo_connection(session, workspace.id)
        workspace_id, connection_id = workspace.id, connection.id
    schedules = [
        parse_schedule("daily at 9:00", "UTC", today=NOW.date()),
        parse_schedule("weekly on monday at 9:00", "UTC", today=NOW.date()),
        parse_schedule("weekdays at 8:30", "Europe/London", today=NOW.date()),
        parse_schedule("monthly on the first monday at 10:00", "America/New_York", today=NOW.date()),
        parse_schedule("daily at 18:00", "Asia/Kolkata", today=NOW.date()),
    ]
    due_every = count // due
    rows = []
    for n in range(count):
        is_due = n % due_every == 0 and n // due_every < due
        schedule = schedules[0] if is_due else schedules[n % len(schedules)]
        columns = dict(
            workspace_id=workspace_id, connection_id=connection_id,
            content_type="dashboard" if n % 3 else "insight", content_ref=str(1000 + n % 500),
            title=f"Bench content {n % 500}", created_by_slack_user=f"U{n % 300:04d}",
        )
        if n % 2 == 0:
            columns.update(target_type="slack", slack_channel_id=f"C{n % 1000:05d}",
                           slack_channel_name=f"bench-{n % 1000}", email_recipients=[])
        else:
            columns.update(target_type="email", email_recipients=[f"r{n:06d}@example.com"])
        if is_due:
            when = DUE_AT
        elif n % 10 == 3:  # paused; a third of them overdue, as a paused subscription keeps its last date
            columns.update(enabled=False, paused_reason="paused by <@U0001>")
            when = NOW - timedelta(days=1 + n % 30) if n % 30 < 10 else NOW + timedelta(minutes=n % 10_000)
        elif n % 100 == 7:  # deleted (unsubscribed)
            columns.update(enabled=False, deleted_at=NOW - timedelta(days=3))
            when = NOW + timedelta(days=1)
        else:  # later: from a minute to a week ahead
            when = NOW + timedelta(minutes=1 + n % (7 * 24 * 60))
        rows.append(subscription_row(schedule, when, **columns))
    started = time.perf_counter()
    await bulk_subscriptions(database, rows)
    # Vacuumed and analyzed, as autovacuum leaves a table in service: otherwise autovacuum works through the
    # freshly loaded rows while the rounds are timed.
    async with database.engine.connect() as connection:
        await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM (ANALYZE)"))
    async with database.engine.begin() as connection:
        ids = (await connection.execute(
            text("SELECT id FROM subscriptions WHERE next_delivery_at = :at AND enabled ORDER BY id"),
            {"at": DUE_AT})).scalars().all()
    print(f"inserted {count:,} subscriptions ({len(ids)} due) in {time.perf_counter() - started:.1f}s")
    return list(ids)


async def restore(database: Database, due_ids: list[int]) -> None:
    """Undo a claim: its deliveries (and their targets, by cascade) go, the subscriptions are due again."""
    async with database.transaction() as session:
        await session.execute(delete(Delivery).where(Delivery.subscription_id.in_(due_ids)))
        await session.execute(update(Subscription).where(Subscription.id.in_(due_ids)).values(next_delivery_at=DUE_AT))


async def time_claims(database: Database, policy, due_ids: list[int], rounds: int) -> list[float]:
    """Milliseconds of each counted claim batch."""
    timings = []
    for n in range(WARM_UP + rounds):
        started = time.perf_counter()
        ids = await claim_due_subscriptions(database, NOW, policy)
        elapsed = (time.perf_counter() - started) * 1000
        if len(ids) != len(due_ids):
            raise SystemExit(f"round {n}: claimed {len(ids)} deliveries, not {len(due_ids)}")
        if n >= WARM_UP:
            timings.append(elapsed)
        await restore(database, due_ids)
    return timings


def claim_sql(database: Database, batch: int) -> tuple[str, tuple]:
    """The SELECT the claim runs on PostgreSQL (`due_subscriptions`, locked as the claim locks it), compiled by
    the engine's own dialect, and its values in order."""
    statement = due_subscriptions(NOW, batch).with_for_update(skip_locked=True)
    compiled = statement.compile(dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), tuple(compiled.params[name] for name in compiled.positiontup)


async def time_selects(database: Database, batch: int, rounds: int) -> list[float]:
    """Milliseconds of the claim's SELECT alone (rows locked, then the transaction rolled back), per round."""
    sql, values = claim_sql(database, batch)
    timings = []
    async with database.engine.connect() as connection:
        for n in range(WARM_UP + rounds):
            transaction = await connection.begin()
            started = time.perf_counter()
            rows = (await connection.exec_driver_sql(sql, values)).all()
            elapsed = (time.perf_counter() - started) * 1000
            await transaction.rollback()
            if len(rows) != batch:
                raise SystemExit(f"the claim's SELECT found {len(rows)} due subscriptions, not {batch}")
            if n >= WARM_UP:
                timings.append(elapsed)
    return timings


async def explain(database: Database, batch: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim's SELECT, run (rows locked) in a transaction then rolled back."""
    sql, values = claim_sql(database, batch)
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        plan = (await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, values)).scalars().all()
        await transaction.rollback()
    return "\n".join(plan)


def summary(name: str, timings: list[float], claimed: int) -> str:
    median = statistics.median(timings)
    return (f"{name:<34} median {median:7.2f} ms, p95 {percentile(timings, 95):7.2f} ms, "
            f"min {min(timings):6.2f} ms ({median / claimed * 1000:.0f} µs per subscription; {len(timings)} rounds)")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (created when missing, migrated)")
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=200, help="subscriptions due at each claim (the batch)")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        raise SystemExit("bench/claim.py measures the PostgreSQL claim (FOR UPDATE SKIP LOCKED); give a postgresql URL")
    command_line = shlex.join([".venv/bin/python", "bench/claim.py", *sys.argv[1:]])

    await migrate(args.url)
    database = Database(args.url)
    baseline = Database(args.url, connect_args={"server_settings": NO_INDEX})
    try:
        await empty_tables(database)
        await install_workspace(database, TEAM, TOKEN)
        due_ids = await populate(database, args.subscriptions, args.due)
        settings = Settings(database_url=args.url, secret_key=os.environ["SECRET_KEY"])
        # The worker's policy (scheduler/assembly.py); the service sets the batch to the room it has.
        policy = replace(claim_policy(settings, "bench-claim"), batch=args.due)

        with_index = await time_claims(database, policy, due_ids, args.rounds)
        without_index = await time_claims(baseline, policy, due_ids, args.rounds)
        select_with = await time_selects(database, policy.batch, args.rounds)
        select_without = await time_selects(baseline, policy.batch, args.rounds)
        plan = await explain(database, policy.batch)
        baseline_plan = await explain(baseline, policy.batch)
    finally:
        await database.dispose()
        await baseline.dispose()

    uses_index = "ix_subscriptions_due" in plan
    median, base = statistics.median(with_index), statistics.median(without_index)
    print()
    print("=" * 100)
    print(f"bench/claim.py: {command_line}")
    print(f"  {args.subscriptions:,} subscriptions, {len(due_ids)} due; a claim batch of {policy.batch} "
          f"(worker policy: lease {policy.lease}, grace {policy.grace}); {os.cpu_count()} CPU cores")
    print()
    print("the claim's SELECT:")
    sql, values = claim_sql(database, policy.batch)
    print("  " + sql.replace("\n", "\n  "))
    print(f"  with {', '.join(map(str, values))}")
    print()
    print("EXPLAIN (ANALYZE, BUFFERS), as the claim runs it:")
    print("  " + plan.replace("\n", "\n  "))
    print(f"uses ix_subscriptions_due: {'yes' if uses_index else 'NO'}")
    print()
    print("baseline plan (enable_indexscan = off, enable_bitmapscan = off):")
    print("  " + baseline_plan.replace("\n", "\n  "))
    print()
    print(summary("claim batch (index allowed)", with_index, len(due_ids)))
    print(summary("baseline (no index scans)", without_index, len(due_ids)))
    print(f"ratio baseline / claim: {base / median:.1f}x  (with index scans off, the foreign-key check of each new "
          "delivery scans the table too; the SELECT alone, below, is the index's own share)")
    print(summary("its SELECT alone (index allowed)", select_with, len(due_ids)))
    print(summary("its SELECT alone (no index scans)", select_without, len(due_ids)))
    print(f"ratio baseline / SELECT: {statistics.median(select_without) / statistics.median(select_with):.1f}x")
    print(f"goal: median at most 20 ms: {'OK' if median <= 20 else 'OVER'} ({median:.2f} ms)")
    print("=" * 100)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
