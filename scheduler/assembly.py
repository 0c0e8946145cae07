"""Putting the delivery machinery together: renderer, pipeline, senders and the scheduler service."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from bot import SlackSender
from bot.token_rotation import rotate_expiring_tokens
from core.db import Database
from core.retry import RetryPolicy
from core.settings import Settings
from exports import ExportAnnouncer, ExportPolicy, ExportRunner, ExportWorker, delete_expired, make_storage
from mail import EmailSender
from render import Renderer
from scheduler.claiming import ClaimPolicy
from scheduler.content import ContentRenderer
from scheduler.notices import CreatorNotifier
from scheduler.pipeline import ContentLoader, Pipeline
from scheduler.service import SchedulerService, default_worker_id
from scheduler.welcomes import send_welcomes
from scheduler.workspaces import purge_uninstalled

# Who retries what (core/retry.py): the pipeline retries Slack sends, resuming where they stopped; mail/
# retries each email itself on the SMTP connection it holds, so the pipeline tries an email once.
SEND_RETRIES = {"slack": RetryPolicy(attempts=3, base_seconds=2.0), "email": RetryPolicy(attempts=1)}


def claim_policy(settings: Settings, worker_id: str | None = None) -> ClaimPolicy:
    return ClaimPolicy(
        worker_id=worker_id or default_worker_id(),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        grace=timedelta(hours=settings.catch_up_grace_hours),
    )


def build_pipeline(
    settings: Settings,
    database: Database,
    load_content: ContentLoader,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    email_transport=None,
    worker_id: str | None = None,
) -> Pipeline:
    slack = SlackSender(database, settings)
    return Pipeline(
        database=database,
        load_content=load_content,
        senders={"slack": slack, "email": EmailSender(settings, transport=email_transport)},
        clock=clock,
        send_retries=dict(SEND_RETRIES),
        max_consecutive_failures=settings.max_consecutive_failures,
        notify_paused=CreatorNotifier(settings, slack, email_transport),
        worker_id=worker_id,
    )


@asynccontextmanager
async def scheduler_service(
    settings: Settings,
    database: Database,
    *,
    renderer: Renderer | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    worker_id: str | None = None,
    email_transport=None,
    load_content: ContentLoader | None = None,
) -> AsyncIterator[SchedulerService]:
    """A ready SchedulerService (not started). Content is fetched and drawn by `load_content`, or else by a
    `ContentRenderer` on `renderer` (a Renderer of its own when none is given)."""
    policy = claim_policy(settings, worker_id)
    async with contextlib.AsyncExitStack() as stack:
        if load_content is None:
            if renderer is None:
                renderer = await stack.enter_async_context(Renderer(settings))
            load_content = ContentRenderer(renderer, settings)
        pipeline = build_pipeline(
            settings, database, load_content, clock=clock, email_transport=email_transport,
            worker_id=policy.worker_id,
        )
        storage = make_storage(settings)
        runner = ExportRunner(
            database, settings, storage, ExportPolicy(worker_id=policy.worker_id, lease=policy.lease),
            renderer=renderer,
            announce=ExportAnnouncer(settings, database, pipeline.senders["slack"].send_to_user, storage),
            clock=clock,
        )
        try:
            yield SchedulerService(
                database,
                pipeline,
                policy,
                poll_seconds=settings.scheduler_poll_seconds,
                retention=timedelta(days=settings.delivery_retention_days),
                clock=clock,
                rotate_tokens=functools.partial(
                    rotate_expiring_tokens, database, settings, within=timedelta(hours=1)
                ),
                send_welcomes=functools.partial(send_welcomes, database, settings, transport=email_transport),
                exports=ExportWorker(runner),
                delete_expired_exports=functools.partial(delete_expired, database, storage),
                purge_uninstalled=functools.partial(
                    purge_uninstalled, database, storage, retention=timedelta(days=settings.uninstall_retention_days)
                ),
            )
        finally:
            await pipeline.aclose()

