"""Prometheus metrics of this process, defined once, and the aiohttp handler that serves them.

The metrics live in their own `REGISTRY` (not prometheus-client's global one), so that tests read exactly what
the service counted and nothing a library registered. Each process serves its own: `serve` on `/metrics` of the
web application, a `worker` on `METRICS_PORT` (see `scheduler/cli.py`); Prometheus scrapes every process and sums.
Label values are bounded: statuses, channels and content kinds are small fixed sets, error codes are Slack's
snake_case codes, SMTP reply codes or HTTP statuses (anything else is `other`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
PREFIX = "posthog_exports_"

DELIVERIES = Counter(
    PREFIX + "deliveries", "Deliveries finished, by status (succeeded, partial, failed).", ["status"],
    registry=REGISTRY,
)
DELIVERY_TARGETS = Counter(
    PREFIX + "delivery_targets", "Delivery targets recorded, by channel (slack, email) and status (sent, failed).",
    ["channel", "status"], registry=REGISTRY,
)
RENDER_SECONDS = Histogram(
    PREFIX + "render_seconds", "Time to fetch and draw one content for a delivery run, by kind (insight, dashboard).",
    ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120), registry=REGISTRY,
)
DELIVERY_STEP_SECONDS = Histogram(
    PREFIX + "delivery_step_seconds",
    "Time spent in each step of delivering after the render: compose (an email), send_slack and send_email (the "
    "channel's calls, retries included; an email's composing too), record (outcomes and finished deliveries).",
    ["step"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=REGISTRY,
)
CLAIM_LAG_SECONDS = Histogram(
    PREFIX + "claim_lag_seconds", "Time from a delivery's scheduled time to its claim by a scheduler.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 21600), registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    PREFIX + "due_unclaimed_subscriptions", "Enabled subscriptions due and not yet claimed, at the last tick.",
    registry=REGISTRY,
)
EXTERNAL_ERRORS = Counter(
    PREFIX + "external_errors", "Errors answered by Slack, the SMTP server or PostHog, by service and code.",
    ["service", "code"], registry=REGISTRY,
)
BROWSER_POOL_SIZE = Gauge(PREFIX + "browser_pool_size", "Browser sessions in the local pool.", registry=REGISTRY)
BROWSER_RECYCLES = Counter(
    PREFIX + "browser_recycles", "Browser sessions replaced, by reason (crash, renders).", ["reason"],
    registry=REGISTRY,
)
EXPORT_ROWS = Counter(PREFIX + "export_rows", "Rows written into finished exports.", registry=REGISTRY)
EXPORT_JOBS = Counter(
    PREFIX + "export_jobs", "Export jobs finished, by status (ready, failed).", ["status"], registry=REGISTRY
)

_SLACK_CODE = re.compile(r"[a-z0-9_.]{1,60}")
_SMTP_CODE = re.compile(r"\s*([2-5]\d\d)\b")


def error_code(service: str, error: str | None) -> str:
    """A bounded label for an error text: a Slack error code, an SMTP reply code, or `other`."""
    text = (error or "").strip()
    if service == "slack" and _SLACK_CODE.fullmatch(text):
        return text
    if service == "smtp" and (match := _SMTP_CODE.match(text)):
        return match.group(1)
    return "other"


def send_errors(kind: str, outcomes: Iterable) -> None:
    """Count the failed outcomes of one send (`core.delivery.Outcome`) by channel and code."""
    service = "slack" if kind == "slack" else "smtp"
    for outcome in outcomes:
        if not outcome.sent:
            EXTERNAL_ERRORS.labels(service, error_code(service, outcome.error)).inc()


def posthog_error(exc: BaseException) -> None:
    """Count an error of the PostHog API (its HTTP status, `none` without one)."""
    status = getattr(exc, "status", None)
    EXTERNAL_ERRORS.labels("posthog", str(status) if isinstance(status, int) else "none").inc()


async def observe_tick(database, now: datetime, claimed: list[int]) -> None:
    """At each scheduler tick: the claim lag of what it claimed and the due-and-unclaimed queue depth (one COUNT).
    Never raises: a metric must not stop the scheduler."""
    from core.models import Delivery, Subscription  # the models only when a scheduler runs

    try:
        async with database.session() as session:
            if claimed:
                for scheduled in await session.scalars(
                    select(Delivery.scheduled_for).where(Delivery.id.in_(claimed))
                ):
                    CLAIM_LAG_SECONDS.observe(max(0.0, (now - scheduled).total_seconds()))
            depth = await session.scalar(
                select(func.count()).select_from(Subscription).where(
                    Subscription.enabled.is_(True), Subscription.deleted_at.is_(None),
                    Subscription.next_delivery_at <= now,
                )
            )
        QUEUE_DEPTH.set(depth or 0)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not update the scheduler metrics: %s", exc)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


async def metrics_handler(_request: web.Request) -> web.Response:
    """GET /metrics: this process's metrics in the Prometheus text format."""
    return web.Response(body=exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
