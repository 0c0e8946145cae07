"""Claiming due work, safely with any number of processes on one database.

Three kinds of work are claimed, each in one short transaction:
- due subscriptions (`next_delivery_at <= now`): the occurrence becomes a `Delivery` row (unique per subscription
  and scheduled time, so two processes can never both create it) and `next_delivery_at` moves to the next
  future occurrence in the same transaction;
- deliveries recorded as pending by someone else ("Send now" in Slack, `app.py deliver`);
- deliveries whose lease expired: the process running them died, another one finishes them.

On PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`, so concurrent workers take different rows instead
of waiting for each other. SQLite has a single writer; the unique delivery key still forbids a double claim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, Row, and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import Delivery, DeliveryTarget, Subscription, utcnow
from core.schedules import Schedule, ScheduleError
from core.subscriptions import SCHEDULE_FIELDS, pause, schedule_of

log = logging.getLogger(__name__)

# Missed occurrences recorded one by one as skipped; beyond this the last row says how many more were missed.
MAX_SKIPPED_ROWS = 50
MAX_COUNTED = 100_000  # missed occurrences counted at most, so that planning after a very long outage stays cheap
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class ClaimPolicy:
    worker_id: str
    lease: timedelta
    grace: timedelta  # an occurrence missed by less than this is still delivered (once)
    batch: int = 100


def _lock(statement, session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement


def _target_addresses(subscription: Subscription | Row) -> list[tuple[str, str]]:
    if subscription.target_type == "slack":
        return [("slack", subscription.slack_channel_id or "")]
    # A recipient listed twice gets one email (and one target row: the pair is unique per delivery).
    addresses: dict[str, str] = {}
    for address in subscription.email_recipients:
        addresses.setdefault(address.casefold(), address)
    return [("email", address) for address in addresses.values()]


def targets_for(subscription: Subscription) -> list[DeliveryTarget]:
    return [DeliveryTarget(kind=kind, address=address) for kind, address in _target_addresses(subscription)]


@dataclass
class _Plan:
    send: datetime | None  # the occurrence to deliver now, if any
    skipped: list[datetime]  # missed occurrences recorded as skipped (at most MAX_SKIPPED_ROWS)
    not_recorded: int  # further missed occurrences, counted in the last skipped row's reason


def _plan(schedule: Schedule, first: datetime, now: datetime, grace: timedelta) -> _Plan:
    """What to do with a subscription due since `first`: the latest occurrence at or before `now` is sent if it is
    less than `grace` late; every earlier one is skipped."""
    send = None
    candidate = first if first >= now - grace else schedule.next_after(now - grace - _INSTANT)
    while candidate is not None and candidate <= now:
        send, candidate = candidate, schedule.next_after(candidate)
    skipped, not_recorded = [], 0
    moment: datetime | None = first
    while moment is not None and moment <= now and moment != send and not_recorded < MAX_COUNTED:
        if len(skipped) < MAX_SKIPPED_ROWS:
            skipped.append(moment)
        else:
            not_recorded += 1
        moment = schedule.next_after(moment)
    return _Plan(send, skipped, not_recorded)


@dataclass
class _Claimed:
    """What a claim records for one due subscription (as column values, inserted for the whole batch at once)."""

    subscription_id: int
    deliveries: list[dict]  # the skipped occurrences, then the one sent (status "running"), if any
    targets: list[tuple[str, str]]  # (kind, address) of the delivery sent
    next_delivery_at: datetime | None


# What a claim reads of a subscription: its schedule and due time, which together key its plan (first, so that
# the key is a slice of the row), then its targets.
_PLAN_KEY_COLUMNS = (*SCHEDULE_FIELDS, "next_delivery_at")
CLAIM_COLUMNS = (*_PLAN_KEY_COLUMNS, "id", "target_type", "slack_channel_id", "email_recipients")


def _claim_occurrences(subscription: Row, now: datetime, policy: ClaimPolicy,
                       plans: dict[tuple, tuple[_Plan, datetime | None]]) -> _Claimed:
    """What to record for a due subscription (a row of `due_subscriptions`): the latest missed occurrence is
    sent, older ones skipped. `plans` keeps the batch's plans by schedule and due time: the due subscriptions of
    a minute share a few schedules, each worked out once. Raises ScheduleError when its schedule can no longer
    be used."""
    # The first columns of the row (`_PLAN_KEY_COLUMNS`), a list (byweekday) made hashable.
    key = tuple(tuple(v) if v.__class__ is list else v for v in subscription[:len(_PLAN_KEY_COLUMNS)])
    if key not in plans:
        schedule = schedule_of(subscription)
        # Strictly after now: never one send per missed occurrence.
        plans[key] = (_plan(schedule, subscription.next_delivery_at, now, policy.grace), schedule.next_after(now))
    plan, next_delivery_at = plans[key]
    rows = []
    for index, moment in enumerate(plan.skipped):
        reason = f"missed while the service was down ({_duration(now - moment)} late)"
        if index == len(plan.skipped) - 1 and plan.not_recorded:
            reason += f"; {plan.not_recorded} later occurrences were missed too"
        rows.append(_delivery_row(subscription.id, moment, trigger="catch_up", status="skipped", created_at=now,
                                  finished_at=now, error=reason))
    targets = []
    if plan.send is not None:
        rows.append(_delivery_row(
            subscription.id, plan.send,
            trigger="catch_up" if plan.skipped or plan.send != subscription.next_delivery_at else "schedule",
            status="running", created_at=now, claimed_by=policy.worker_id, lease_expires_at=now + policy.lease,
            attempts=1, started_at=now,
        ))
        targets = _target_addresses(subscription)
    return _Claimed(subscription.id, rows, targets, next_delivery_at)


# The columns a claim may leave at these values; with the ones it always sets, every row of a batch has the same
# columns (one INSERT for all).
_DELIVERY_DEFAULTS = {"claimed_by": None, "lease_expires_at": None, "attempts": 0, "started_at": None,
                      "finished_at": None, "error": None}
_DELIVERY_COLUMNS = ("subscription_id", "scheduled_for", "trigger", "status", "created_at", *_DELIVERY_DEFAULTS)
# What a new target starts as.
_NEW_TARGET = {"status": "pending", "attempts": 0}


def _delivery_row(subscription_id: int, scheduled_for: datetime, *, trigger: str, status: str, created_at: datetime,
                  **values) -> dict:
    return {"subscription_id": subscription_id, "scheduled_for": scheduled_for, "trigger": trigger,
            "status": status, "created_at": created_at, **_DELIVERY_DEFAULTS, **values}


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def due_subscriptions(now: datetime, batch: int):
    """The query of a claim: up to `batch` due subscriptions, the longest due first (ix_subscriptions_due on
    `(enabled, next_delivery_at)` serves it), as rows of the columns a claim reads (no ORM objects to build for
    a batch that is only read). Locked with SKIP LOCKED on PostgreSQL by the claim."""
    return (
        select(*(getattr(Subscription, name) for name in CLAIM_COLUMNS))
        .where(
            Subscription.enabled.is_(True),
            Subscription.deleted_at.is_(None),
            Subscription.next_delivery_at <= now,
        )
        .order_by(Subscription.next_delivery_at)
        .limit(batch)
    )


async def claim_due_subscriptions(database: Database, now: datetime, policy: ClaimPolicy) -> list[int]:
    """Claim due subscriptions; returns the ids of the deliveries this process now runs.

    An occurrence recorded already (a "Send now" at the same instant, a clock step back) is not recorded again:
    the INSERT skips it on the unique (subscription, scheduled time), so it is neither sent nor skipped twice."""
    async with database.sessions() as session:
        async with session.begin():
            statement = due_subscriptions(now, policy.batch)
            subscriptions = (await (await session.connection()).execute(_lock(statement, session))).all()
            plans: dict[tuple, tuple[_Plan, datetime | None]] = {}
            claims: list[_Claimed] = []
            for subscription in subscriptions:
                try:
                    claims.append(_claim_occurrences(subscription, now, policy, plans))
                except ScheduleError as exc:
                    await _pause_unusable(session, subscription.id, exc)
            if not claims:
                return []
            try:
                # The batch in one or a few statements, not an ORM object and an UPDATE per row.
                if session.bind.dialect.name == "postgresql":
                    sent = await _record_claims_postgres(session, claims)
                else:
                    sent = await _record_claims(session, claims)
                await session.flush()  # the subscriptions paused above, with their audit record
            except IntegrityError:
                # Only when another process changed these rows in the same instant (SQLite has no row locks: a
                # subscription deleted meanwhile fails the foreign key); the next tick claims what is left.
                log.warning("due subscriptions were claimed concurrently; retrying at the next tick")
                await session.rollback()
                return []
            # In batch order; a subscription has at most one delivery sent per claim.
            return [sent[claim.subscription_id] for claim in claims if claim.subscription_id in sent]


async def _pause_unusable(session: AsyncSession, subscription_id: int, exc: ScheduleError) -> None:
    """A schedule that no longer validates (a time zone this host no longer knows...) must not block the others:
    its subscription is paused with the reason, for its owner to fix."""
    subscription = await session.get_one(Subscription, subscription_id)
    pause(subscription, f"Its schedule can no longer be used: {exc}")
    log.warning("subscription %s paused: %s", subscription_id, exc, extra={"subscription_id": subscription_id})


def _moves(claims: list[_Claimed]) -> list[dict]:
    """Each claimed subscription's next occurrence."""
    return [{"id": claim.subscription_id, "next_delivery_at": claim.next_delivery_at} for claim in claims]


def _targets(claims: list[_Claimed], sent: dict[int, int]) -> list[dict]:
    """The target rows of the deliveries sent (`sent`: delivery id by subscription id)."""
    return [{"delivery_id": sent[claim.subscription_id], "kind": kind, "address": address, **_NEW_TARGET}
            for claim in claims if claim.subscription_id in sent for kind, address in claim.targets]


async def _record_claims(session: AsyncSession, claims: list[_Claimed]) -> dict[int, int]:
    """Record the claims in a few executemany statements (SQLite); the ids of the deliveries sent, by subscription."""
    connection = await session.connection()
    rows = [row for claim in claims for row in claim.deliveries]
    sent = {}
    if rows:
        inserted = await connection.execute(
            sqlite_insert(Delivery.__table__).on_conflict_do_nothing()
            .returning(Delivery.id, Delivery.subscription_id, Delivery.status), rows)
        sent = {subscription_id: delivery_id for delivery_id, subscription_id, status in inserted
                if status == "running"}
    if targets := _targets(claims, sent):
        await connection.execute(insert(DeliveryTarget.__table__), targets)
    table = Subscription.__table__
    await connection.execute(update(table).where(table.c.id == bindparam("moved_id"))
                             .values(next_delivery_at=bindparam("next_at"), updated_at=utcnow()),
                             [{"moved_id": m["id"], "next_at": m["next_delivery_at"]} for m in _moves(claims)])
    return sent


def _rows_as_table(name: str, columns: dict, rows: list[dict]):
    """`rows` as a PostgreSQL `unnest(array, array, ...) AS name(column, ...)`: one parameter per column however
    many rows there are, so a batch of hundreds is one statement with a few binds, not thousands."""
    arrays = [bindparam(f"{name}_{column}", [row[column] for row in rows], type_=ARRAY(type_))
              for column, type_ in columns.items()]
    return func.unnest(*arrays).table_valued(*columns, name=name).render_derived()


def _types(table, *names: str) -> dict:
    return {name: table.c[name].type for name in names}



async def _record_claims_postgres(session: AsyncSession, claims: list[_Claimed]) -> dict[int, int]:
    """`_record_claims` as one statement on PostgreSQL, one round trip for the whole batch: the deliveries are
    inserted, the sent ones get their targets and the subscriptions move on, each step a data-modifying CTE fed
    from arrays. The ids of the deliveries sent, by subscription."""
    deliveries, targets, subscriptions = Delivery.__table__, DeliveryTarget.__table__, Subscription.__table__
    new = _rows_as_table("new", _types(deliveries, *_DELIVERY_COLUMNS),
                         [row for claim in claims for row in claim.deliveries])
    inserted = (postgresql_insert(deliveries).from_select(_DELIVERY_COLUMNS, select(*new.c))
                .on_conflict_do_nothing()
                .returning(deliveries.c.id, deliveries.c.subscription_id, deliveries.c.status).cte("inserted"))
    wanted = _rows_as_table(
        "wanted", {"subscription_id": deliveries.c.subscription_id.type, **_types(targets, "kind", "address")},
        [{"subscription_id": claim.subscription_id, "kind": kind, "address": address}
         for claim in claims for kind, address in claim.targets])
    add_targets = insert(targets).from_select(
        ["delivery_id", "kind", "address", *_NEW_TARGET],
        select(inserted.c.id, wanted.c.kind, wanted.c.address, *(literal(value) for value in _NEW_TARGET.values()))
        .join_from(inserted, wanted, wanted.c.subscription_id == inserted.c.subscription_id)
        .where(inserted.c.status == "running"),
    ).cte("added_targets")
    moves = _rows_as_table("moves", _types(subscriptions, "id", "next_delivery_at"), _moves(claims))
    move = (update(subscriptions).where(subscriptions.c.id == moves.c.id)
            .values(next_delivery_at=moves.c.next_delivery_at, updated_at=utcnow()).cte("moved"))
    statement = select(inserted.c.id, inserted.c.subscription_id).where(inserted.c.status == "running")
    rows = await (await session.connection()).execute(statement.add_cte(add_targets, move))
    return {subscription_id: delivery_id for delivery_id, subscription_id in rows}


async def claim_pending_and_expired(
    database: Database, now: datetime, policy: ClaimPolicy, *, only: list[int] | None = None,
    exclude: list[int] | None = None,
) -> list[int]:
    """Claim deliveries asked for by users, and take over those whose process stopped renewing its lease."""
    async with database.sessions() as session:
        async with session.begin():
            statement = (
                select(Delivery)
                .where(
                    or_(
                        Delivery.status == "pending",
                        and_(Delivery.status == "running", Delivery.lease_expires_at < now),
                    )
                )
                .order_by(Delivery.id)
                .limit(policy.batch)
            )
            if only is not None:
                statement = statement.where(Delivery.id.in_(only))
            if exclude:
                statement = statement.where(Delivery.id.not_in(exclude))
            deliveries = (await session.scalars(_lock(statement, session))).all()
            for delivery in deliveries:
                if delivery.status == "running":
                    log.warning("delivery %s: lease of %s expired, taking it over", delivery.id, delivery.claimed_by,
                                extra={"delivery_id": delivery.id, "subscription_id": delivery.subscription_id})
                delivery.status = "running"
                delivery.claimed_by = policy.worker_id
                delivery.lease_expires_at = now + policy.lease
                delivery.attempts += 1
                delivery.started_at = delivery.started_at or now
            ids = [delivery.id for delivery in deliveries]
            if ids:
                await _ensure_targets(session, ids)
    return ids


async def _ensure_targets(session: AsyncSession, delivery_ids: list[int]) -> None:
    """A delivery recorded by a user has no targets yet: they are the subscription's, at claim time."""
    rows = (
        await session.execute(
            select(Delivery, Subscription)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(Delivery.id.in_(delivery_ids), ~Delivery.targets.any())
        )
    ).all()
    for delivery, subscription in rows:
        for target in targets_for(subscription):
            target.delivery_id = delivery.id
            session.add(target)


def _still_mine(delivery_ids: list[int], policy: ClaimPolicy):
    """Deliveries of `delivery_ids` this process still runs (not finished, not taken over by another one)."""
    return select(Delivery).where(
        Delivery.id.in_(delivery_ids), Delivery.claimed_by == policy.worker_id, Delivery.status == "running"
    )


async def renew_leases(database: Database, delivery_ids: list[int], now: datetime, policy: ClaimPolicy) -> None:
    if not delivery_ids:
        return
    async with database.transaction() as session:
        for delivery in await session.scalars(_still_mine(delivery_ids, policy)):
            delivery.lease_expires_at = now + policy.lease


async def release(database: Database, delivery_ids: list[int], policy: ClaimPolicy) -> None:
    """Give unfinished deliveries back (graceful shutdown): another process claims them at once."""
    if not delivery_ids:
        return
    async with database.transaction() as session:
        for delivery in await session.scalars(_still_mine(delivery_ids, policy)):
            delivery.status = "pending"
            delivery.claimed_by = None
            delivery.lease_expires_at = None
