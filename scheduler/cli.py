"""Commands of the scheduler: `worker`, `deliver` and `deliveries`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select

from core import health, metrics
from core.db import Database
from core.migrations import require_current
from core.models import Subscription
from core.settings import get_settings
from core.subscriptions import request_delivery_now
from render import Renderer
from scheduler.assembly import claim_policy, scheduler_service
from scheduler.claiming import claim_pending_and_expired, renew_leases
from scheduler.history import DeliveryLine, format_history, recent_deliveries

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    worker = subparsers.add_parser("worker", help="run the scheduler and renderer without the web service")
    worker.set_defaults(func=lambda _args: asyncio.run(run_worker()))

    deliver = subparsers.add_parser("deliver", help="send one subscription now, whatever its schedule")
    deliver.add_argument("subscription_id", type=int)
    deliver.set_defaults(func=lambda args: asyncio.run(deliver_now(args.subscription_id)))

    deliveries = subparsers.add_parser("deliveries", help="recent deliveries with per-target status and errors")
    deliveries.add_argument("--subscription", type=int, default=None, help="only this subscription")
    deliveries.add_argument("--limit", type=int, default=20)
    deliveries.set_defaults(func=lambda args: asyncio.run(show_deliveries(args.subscription, args.limit)))


async def run_worker() -> int:
    settings = get_settings()
    await asyncio.to_thread(require_current, settings.database_url)
    database = Database(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        # The worker's renderer is made here (scheduler_service would make the same one) for /readyz to look at.
        async with (
            Renderer(settings) as renderer,
            scheduler_service(settings, database, renderer=renderer) as service,
            _metrics_site(settings, database, service, renderer),
        ):
            service.start()
            await stop.wait()
            log.info("stopping: no new claims; finishing running deliveries")
            await service.stop(timeout=settings.shutdown_timeout_seconds)
    finally:
        await database.dispose()
    return 0


@contextlib.asynccontextmanager
async def _metrics_site(settings, database: Database, service, renderer=None):
    """A worker's own `/metrics`, `/healthz` and `/readyz` on HOST:METRICS_PORT (nothing when it is 0). Each
    process serves its own metrics, as `serve` does on its web port; Prometheus scrapes each and sums."""
    if not settings.metrics_port:
        yield None
        return
    app = web.Application()
    app.router.add_get("/metrics", metrics.metrics_handler)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz_handler(
        database, heartbeat=service.heartbeat.age, poll_seconds=settings.scheduler_poll_seconds,
        renderer=(lambda: renderer) if renderer is not None else None, grid_url=settings.selenium_grid_url))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, settings.host, settings.metrics_port).start()
            log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
        except OSError as exc:
            # Deliveries matter more than their metrics: the worker runs on, and says how to fix it.
            log.error("no /metrics: %s:%d cannot be used (%s); give each worker on a host its own METRICS_PORT "
                      "(systemd: Environment=METRICS_PORT=946%%i)", settings.host, settings.metrics_port, exc)
        yield runner
    finally:
        await runner.cleanup()


async def deliver_subscription_now(settings, database: Database, subscription_id: int) -> DeliveryLine | None:
    """Ask for a delivery now (or take the one already asked for) and run it in this process; None if the
    subscription does not exist."""
    async with database.transaction() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.deleted_at is not None:
            return None
        delivery, _created = await request_delivery_now(session, subscription)
    # Claimed before the browser starts, so that a running service does not take it first; its lease is renewed
    # while it runs, so that a running service does not take it over either.
    policy = claim_policy(settings)
    claimed = await claim_pending_and_expired(database, datetime.now(UTC), policy, only=[delivery.id])
    async with scheduler_service(settings, database, worker_id=policy.worker_id) as service:
        renewing = asyncio.create_task(_renew_until_cancelled(database, claimed, policy))
        try:
            await service.pipeline.run(claimed)
        finally:
            renewing.cancel()
    [line] = await recent_deliveries(database, delivery_id=delivery.id)
    return line


async def _renew_until_cancelled(database: Database, delivery_ids: list[int], policy) -> None:
    while True:
        await asyncio.sleep(policy.lease.total_seconds() / 3)
        await renew_leases(database, delivery_ids, datetime.now(UTC), policy)


async def deliver_now(subscription_id: int) -> int:
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        line = await deliver_subscription_now(settings, database, subscription_id)
    finally:
        await database.dispose()
    if line is None:
        print(f"Subscription {subscription_id} does not exist.")
        return 2
    print(format_history([line]))
    return 0 if line.status == "succeeded" else 1


async def show_deliveries(subscription_id: int | None, limit: int) -> int:
    database = Database(get_settings().database_url)
    try:
        if subscription_id is not None:
            async with database.session() as session:
                if await session.scalar(select(Subscription.id).where(Subscription.id == subscription_id)) is None:
                    print(f"Subscription {subscription_id} does not exist.")
                    return 2
        print(format_history(await recent_deliveries(database, subscription_id=subscription_id, limit=limit)))
        return 0
    finally:
        await database.dispose()
