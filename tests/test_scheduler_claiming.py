"""Claiming due subscriptions: each occurrence once, catch-up after downtime, leases taken over after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.db import Database
from core.models import Delivery, DeliveryTarget, Subscription
from core.schedule_phrases import parse_schedule
from core.subscriptions import create_subscription, demo_connection
from scheduler.claiming import ClaimPolicy, claim_due_subscriptions, claim_pending_and_expired, release, renew_leases

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
POLICY = ClaimPolicy(worker_id="worker-a", lease=timedelta(minutes=5), grace=timedelta(hours=6))


async def _subscribe(db: Database, phrase: str, tz: str = "UTC", *, recipients=("a@example.com",)) -> int:
    async with db.transaction() as session:
        connection = await demo_connection(session)
        subscription = await create_subscription(
            session,
            connection=connection,
            content_type="dashboard",
            content_ref="42",
            schedule=parse_schedule(phrase, tz, today=T0.date()),
            target_type="email",
            email_recipients=list(recipients),
            now=T0,
        )
        return subscription.id


async def _deliveries(db: Database, subscription_id: int) -> list[Delivery]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.subscription_id == subscription_id).order_by(Delivery.scheduled_for)
        )
        return list(rows)


async def _next(db: Database, subscription_id: int) -> datetime | None:
    async with db.session() as session:
        return (await session.get(Subscription, subscription_id)).next_delivery_at


async def test_a_due_occurrence_is_claimed_once_and_the_next_one_scheduled(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00")
    assert await _next(db, sid) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    assert await claim_due_subscriptions(db, T0 + timedelta(minutes=59), POLICY) == []
    now = datetime(2026, 1, 5, 9, 0, 3, tzinfo=UTC)
    claimed = await claim_due_subscriptions(db, now, POLICY)
    assert len(claimed) == 1
    assert await claim_due_subscriptions(db, now, POLICY) == []
    assert await claim_due_subscriptions(db, now + timedelta(hours=1), POLICY) == []

    [delivery] = await _deliveries(db, sid)
    assert (delivery.status, delivery.trigger, delivery.claimed_by) == ("running", "schedule", "worker-a")
    assert delivery.scheduled_for == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert await _next(db, sid) == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    async with db.session() as session:
        targets = (await session.scalars(select(DeliveryTarget))).all()
    assert [(t.kind, t.address, t.status) for t in targets] == [("email", "a@example.com", "pending")]


async def test_three_days_of_downtime_give_one_catch_up_and_skipped_records(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00")
    back = datetime(2026, 1, 7, 10, 30, tzinfo=UTC)  # missed the 5th, 6th and 7th; the 7th by 1.5 hours
    claimed = await claim_due_subscriptions(db, back, POLICY)
    assert len(claimed) == 1
    rows = await _deliveries(db, sid)
    assert [(r.scheduled_for.day, r.status) for r in rows] == [(5, "skipped"), (6, "skipped"), (7, "running")]
    assert rows[2].trigger == "catch_up"
    assert "missed while the service was down" in rows[0].error
    assert await _next(db, sid) == datetime(2026, 1, 8, 9, 0, tzinfo=UTC)


async def test_occurrences_older_than_the_grace_period_are_all_skipped(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00")
    back = datetime(2026, 1, 7, 20, 0, tzinfo=UTC)  # 11 hours after the last occurrence
    assert await claim_due_subscriptions(db, back, POLICY) == []
    assert {r.status for r in await _deliveries(db, sid)} == {"skipped"}


async def test_paused_and_deleted_subscriptions_are_not_claimed(db: Database) -> None:
    paused = await _subscribe(db, "daily at 9:00")
    deleted = await _subscribe(db, "daily at 9:00")
    async with db.transaction() as session:
        (await session.get(Subscription, paused)).enabled = False
        (await session.get(Subscription, deleted)).deleted_at = T0
    assert await claim_due_subscriptions(db, T0 + timedelta(hours=2), POLICY) == []


async def test_a_requested_delivery_is_claimed_with_the_subscription_targets(db: Database) -> None:
    sid = await _subscribe(db, "weekly", recipients=("a@example.com", "b@example.com"))
    async with db.transaction() as session:
        session.add(Delivery(subscription_id=sid, scheduled_for=T0, trigger="manual", status="pending"))
    [claimed] = await claim_pending_and_expired(db, T0, POLICY)
    assert await claim_pending_and_expired(db, T0, POLICY) == []
    async with db.session() as session:
        delivery = await session.get(Delivery, claimed)
        targets = (await session.scalars(select(DeliveryTarget).where(DeliveryTarget.delivery_id == claimed))).all()
    assert (delivery.status, delivery.attempts) == ("running", 1)
    assert sorted(t.address for t in targets) == ["a@example.com", "b@example.com"]


async def test_an_expired_lease_is_taken_over_by_another_worker(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00")
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    [delivery_id] = await claim_due_subscriptions(db, now, POLICY)
    other = ClaimPolicy(worker_id="worker-b", lease=POLICY.lease, grace=POLICY.grace)

    # Renewed leases keep it; once renewals stop and the lease runs out, worker-b takes it.
    await renew_leases(db, [delivery_id], now + timedelta(minutes=4), POLICY)
    assert await claim_pending_and_expired(db, now + timedelta(minutes=6), other) == []
    assert await claim_pending_and_expired(db, now + timedelta(minutes=10), other) == [delivery_id]
    [row] = await _deliveries(db, sid)
    assert (row.claimed_by, row.attempts) == ("worker-b", 2)
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(DeliveryTarget))
    assert count == 1  # targets are not duplicated by a takeover


async def test_released_deliveries_are_claimed_again_at_once(db: Database) -> None:
    await _subscribe(db, "daily at 9:00")
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    [delivery_id] = await claim_due_subscriptions(db, now, POLICY)
    await release(db, [delivery_id], POLICY)
    other = ClaimPolicy(worker_id="worker-b", lease=POLICY.lease, grace=POLICY.grace)
    assert await claim_pending_and_expired(db, now, other) == [delivery_id]


async def test_daily_in_berlin_is_claimed_at_local_nine_in_winter_and_summer(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00", "Europe/Berlin")
    winter = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)  # T0 is 09:00 in Berlin: the next is tomorrow
    assert await _next(db, sid) == winter
    async with db.transaction() as session:
        (await session.get(Subscription, sid)).next_delivery_at = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert await claim_due_subscriptions(db, datetime(2026, 7, 1, 6, 59, tzinfo=UTC), POLICY) == []
    assert len(await claim_due_subscriptions(db, datetime(2026, 7, 1, 7, 0, 1, tzinfo=UTC), POLICY)) == 1
    assert await _next(db, sid) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


async def test_after_two_months_down_the_occurrence_within_grace_is_still_sent(db: Database) -> None:
    sid = await _subscribe(db, "daily at 9:00")
    back = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # 60 days of occurrences missed; today's is 1 hour late
    [claimed] = await claim_due_subscriptions(db, back, POLICY)
    rows = await _deliveries(db, sid)
    sent = [r for r in rows if r.status == "running"]
    skipped = [r for r in rows if r.status == "skipped"]
    assert [r.id for r in sent] == [claimed] and sent[0].scheduled_for == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert len(skipped) == 50  # one row each, then a count
    assert "10 later occurrences were missed too" in skipped[-1].error
    assert await _next(db, sid) == datetime(2026, 3, 7, 9, 0, tzinfo=UTC)


async def test_a_subscription_whose_schedule_no_longer_works_is_paused_and_does_not_block_others(db: Database) -> None:
    broken = await _subscribe(db, "daily at 8:30")
    healthy = await _subscribe(db, "daily at 9:00")
    async with db.transaction() as session:
        (await session.get(Subscription, broken)).timezone = "Asia/Nowhere"  # e.g. a zone tzdata dropped
    claimed = await claim_due_subscriptions(db, datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC), POLICY)
    assert [d.id for d in await _deliveries(db, healthy)] == claimed
    assert await _deliveries(db, broken) == []
    async with db.session() as session:
        paused = await session.get(Subscription, broken)
    assert paused.enabled is False and "Asia/Nowhere" in paused.paused_reason


async def test_an_occurrence_recorded_already_is_not_recorded_again_and_blocks_nothing(db: Database) -> None:
    first = await _subscribe(db, "daily at 9:00")
    second = await _subscribe(db, "daily at 9:30")
    nine = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    async with db.transaction() as session:
        session.add(Delivery(subscription_id=first, scheduled_for=nine, trigger="manual", status="succeeded"))
    claimed = await claim_due_subscriptions(db, datetime(2026, 1, 5, 9, 30, 5, tzinfo=UTC), POLICY)
    assert [d.id for d in await _deliveries(db, second)] == claimed
    assert len(await _deliveries(db, first)) == 1
    assert await _next(db, first) == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)


async def test_a_batch_records_each_subscription_s_occurrences_and_targets_around_those_recorded_already(
    db: Database,
) -> None:
    # Down from Monday 08:00 to Wednesday 10:30: an email report whose Tuesday occurrence was sent by hand
    # meanwhile, to a recipient listed twice, and a Slack one, claimed in the same batch.
    email = await _subscribe(db, "daily at 9:00", recipients=("Ann@example.com", "bob@example.com", "ann@example.com"))
    async with db.transaction() as session:
        connection = await demo_connection(session)
        slack = (await create_subscription(
            session, connection=connection, content_type="insight", content_ref="7",
            schedule=parse_schedule("daily at 9:00", "UTC", today=T0.date()), target_type="slack",
            slack_channel_id="C0123", slack_channel_name="metrics", now=T0,
        )).id
        session.add(Delivery(subscription_id=email, scheduled_for=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
                             trigger="manual", status="succeeded"))
    claimed = await claim_due_subscriptions(db, datetime(2026, 1, 7, 10, 30, tzinfo=UTC), POLICY)

    rows = await _deliveries(db, email)
    assert [(r.scheduled_for.day, r.status, r.trigger) for r in rows] == [
        (5, "skipped", "catch_up"), (6, "succeeded", "manual"), (7, "running", "catch_up")]
    [slack_row] = [r for r in await _deliveries(db, slack) if r.status == "running"]
    assert sorted(claimed) == sorted([rows[2].id, slack_row.id])
    async with db.session() as session:
        targets = (await session.execute(select(DeliveryTarget.delivery_id, DeliveryTarget.kind,
                                                DeliveryTarget.address))).all()
    sent = rows[2].id
    assert sorted(targets) == sorted([(sent, "email", "Ann@example.com"), (sent, "email", "bob@example.com"),
                                      (slack_row.id, "slack", "C0123")])
    assert await _next(db, email) == await _next(db, slack) == datetime(2026, 1, 8, 9, 0, tzinfo=UTC)
