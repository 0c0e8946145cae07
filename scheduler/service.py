"""The scheduler service: APScheduler's AsyncIOScheduler running our few local jobs.

The schedule of record is the subscriptions table; APScheduler only drives the local loop:
- `tick` (every SCHEDULER_POLL_SECONDS): claim due work and run it through the pipeline;
- `housekeeping` (hourly): delete expired exported files, delivery history past its retention, and the data of
  workspaces that removed the app more than UNINSTALL_RETENTION_DAYS ago;
- `rotate_tokens` (every 10 minutes): renew Slack bot tokens that expire within the hour.

Deliveries run as tasks beside the tick, each under a lease renewed while it runs. `stop()` stops claiming,
waits for running deliveries up to a time-out, and releases the rest for another process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete

from core import metrics
from core.audit import SYSTEM, acting_as
from core.db import Database
from core.health import Heartbeat
from core.models import Delivery
from scheduler.claiming import ClaimPolicy, claim_due_subscriptions, claim_pending_and_expired, release, renew_leases
from scheduler.pipeline import Pipeline

log = logging.getLogger(__name__)


TOKEN_ROTATION_MINUTES = 10  # Slack's rotating tokens live 12 hours; renewed when they have under an hour left


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SchedulerService:
    def __init__(
        self,
        database: Database,
        pipeline: Pipeline,
        policy: ClaimPolicy,
        *,
        poll_seconds: float = 5.0,
        retention: timedelta = timedelta(days=90),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_in_flight: int | None = None,
        rotate_tokens: Callable[[], Awaitable[int]] | None = None,
        send_welcomes: Callable[[], Awaitable[int]] | None = None,
        exports=None,  # exports.ExportWorker: runs export jobs beside the deliveries
        delete_expired_exports: Callable[[datetime], Awaitable[int]] | None = None,
        purge_uninstalled: Callable[[datetime], Awaitable[list]] | None = None,
    ) -> None:
        self.database = database
        self.rotate_tokens = rotate_tokens  # renews Slack bot tokens before they expire
        self.send_welcomes = send_welcomes  # tells new email recipients that they were subscribed
        self.exports = exports
        self.delete_expired_exports = delete_expired_exports
        self.purge_uninstalled = purge_uninstalled
        # Deliveries this process runs at once; it claims more only as they finish, so that the work is shared
        # with the other processes instead of being taken by whichever polls first.
        self.max_in_flight = max_in_flight or policy.batch
        self.pipeline = pipeline
        self.policy = policy
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.clock = clock
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: dict[int, asyncio.Task] = {}  # delivery id -> task
        self._stopping = False
        self._tick_lock = asyncio.Lock()
        self.heartbeat = Heartbeat()  # the last tick, for /readyz

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self._scheduler.add_job(
            self.tick, "interval", seconds=self.poll_seconds, id="tick", max_instances=1, coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.add_job(
            self.renew, "interval", seconds=max(1.0, self.policy.lease.total_seconds() / 3), id="renew",
            max_instances=1, coalesce=True, misfire_grace_time=None,  # late is fine, skipped is not
        )
        self._scheduler.add_job(
            self.housekeeping, "interval", hours=1, id="housekeeping", max_instances=1, coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=30),
        )
        if self.exports is not None:
            self._scheduler.add_job(
                self._export_tick, "interval", seconds=self.poll_seconds, id="exports", max_instances=1,
                coalesce=True, next_run_time=datetime.now(UTC) + timedelta(seconds=1),
            )
        if self.send_welcomes is not None:
            self._scheduler.add_job(
                self._welcome, "interval", seconds=self.poll_seconds, id="welcomes", max_instances=1, coalesce=True,
                next_run_time=datetime.now(UTC) + timedelta(seconds=1),
            )
        if self.rotate_tokens is not None:
            self._scheduler.add_job(
                self.rotate_tokens, "interval", minutes=TOKEN_ROTATION_MINUTES, id="rotate_tokens",
                max_instances=1, coalesce=True, next_run_time=datetime.now(UTC) + timedelta(seconds=10),
            )
        self._scheduler.start()
        log.info("scheduler %s started (poll every %.1f s)", self.policy.worker_id, self.poll_seconds)

    async def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; let running deliveries finish up to `timeout`; release what is left."""
        self._stopping = True
        async with self._tick_lock:
            pass  # a claim in progress registers its run before the snapshot below, so it is waited for
        if self._scheduler.running:
            # Leases keep being renewed while running deliveries finish; only claiming stops.
            self._scheduler.remove_job("tick")
        if self.exports is not None:
            await self.exports.stop()  # their leases lapse; another worker starts them again
        running = list(set(self._running.values()))
        if running:
            log.info("waiting up to %.0f s for %d deliveries to finish", timeout, len(running))
            _done, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        leftover = list(self._running)
        if leftover:
            await release(self.database, leftover, self.policy)
            log.info("released %d unfinished deliveries for another process", len(leftover))
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # --- jobs --------------------------------------------------------------------------------------------

    async def tick(self) -> list[int]:
        """Claim what is due now and start running it; returns the delivery ids started."""
        if self._stopping:
            return []
        self.heartbeat.beat()
        with acting_as(SYSTEM):  # what the runs change (a pause after failures) is the system's doing
            return await self._tick()

    async def _tick(self) -> list[int]:
        async with self._tick_lock:
            now = self.clock()
            room = self.max_in_flight - len(self._running)
            if room <= 0:
                await metrics.observe_tick(self.database, now, [])
                return []
            try:
                # Never "take over" a delivery this process still runs, even if its lease lapsed meanwhile.
                ids = await claim_pending_and_expired(
                    self.database, now, replace(self.policy, batch=room), exclude=list(self._running)
                )
                if len(ids) < room:
                    policy = replace(self.policy, batch=room - len(ids))
                    ids += await claim_due_subscriptions(self.database, now, policy)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the loop
                log.exception("claiming failed; trying again at the next tick")
                return []
            await metrics.observe_tick(self.database, now, ids)  # claim lag, due-and-unclaimed queue depth
            if ids:
                task = asyncio.create_task(self._run(ids))
                for delivery_id in ids:
                    self._running[delivery_id] = task
            return ids

    async def _run(self, ids: list[int]) -> None:
        # On cancellation (stop() timed out) the ids stay in _running, so stop() releases them.
        try:
            await self.pipeline.run(ids)
        except Exception:  # noqa: BLE001
            log.exception("delivery run failed; its leases expire and another process retries it")
        for delivery_id in ids:
            self._running.pop(delivery_id, None)

    async def _export_tick(self) -> None:
        if not self._stopping:
            await self.exports.tick()

    async def _welcome(self) -> None:
        if self._stopping:
            return
        try:
            await self.send_welcomes()
        except Exception:  # noqa: BLE001 - a mail server hiccup must not kill the loop
            log.exception("sending welcome notices failed; trying again shortly")

    async def renew(self) -> None:
        if self._running:
            await renew_leases(self.database, list(self._running), self.clock(), self.policy)

    async def housekeeping(self) -> None:
        now = self.clock()
        files = await self.delete_expired_exports(now) if self.delete_expired_exports is not None else 0
        async with self.database.transaction() as session:
            history = await session.execute(
                delete(Delivery).where(Delivery.finished_at < now - self.retention, Delivery.status != "running")
            )
        purged = await self.purge_uninstalled(now) if self.purge_uninstalled is not None else []
        log.info("housekeeping: %d expired exports, %d old deliveries, %d workspaces uninstalled long ago removed",
                 files, history.rowcount, len(purged))

    async def drain(self) -> None:
        """Wait until every started delivery has finished (used by `deliver`, the demo and tests)."""
        while self._running:
            await asyncio.gather(*set(self._running.values()), return_exceptions=True)
