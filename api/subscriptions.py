"""`/subscriptions`: the subscription lifecycle over HTTP, through the same functions as Slack and the command line
(core/subscriptions.py), with the same checks and the same messages."""

from __future__ import annotations

from sqlalchemy import select

from core import subscriptions as lifecycle
from core.date_ranges import DateRangeError, parse_date_range
from core.models import Delivery as DeliveryRow
from core.models import DeliveryTarget as TargetRow
from core.models import PostHogConnection, utcnow
from core.models import Subscription as SubscriptionRow
from core.recipients import RecipientError
from core.schedules import ScheduleError, canonical_timezone
from posthog_api import PostHogError, PostHogUnavailable, connections_of, fetch, find_connection

from . import schemas
from .pipeline import Call, check_if_match
from .problems import ApiProblem, field_problem, not_found
from .registry import Link, Operation, Outcome, Registry, Reply

BY_ID = {"subscription_id": "$response.body#/id"}


def subscription_out(row: SubscriptionRow) -> schemas.Subscription:
    try:
        schedule = lifecycle.schedule_of(row)
        shown = schemas.ScheduleOut(summary=schedule.summary(), timezone=schedule.timezone,
                                    frequency=schedule.frequency, interval=schedule.interval,
                                    byweekday=list(schedule.byweekday), hour=schedule.hour, minute=schedule.minute)
    except ScheduleError:
        shown = None
    return schemas.Subscription(
        id=row.id, connection_id=row.connection_id, content_type=row.content_type, content_ref=row.content_ref,
        title=row.title, target_type=row.target_type, slack_channel_id=row.slack_channel_id,
        slack_channel_name=row.slack_channel_name, email_recipients=list(row.email_recipients or []),
        schedule=shown, date_from=row.date_from, date_to=row.date_to, attach_format=row.attach_format,
        theme=row.theme or "light",
        enabled=row.enabled, paused_reason=row.paused_reason, next_delivery_at=row.next_delivery_at,
        last_delivery_at=row.last_delivery_at, created_at=row.created_at, updated_at=row.updated_at,
    )


async def _subscription(session, call: Call) -> SubscriptionRow:
    found = await lifecycle.find_subscription(session, call.workspace_id, call.path["subscription_id"])
    if found is None:
        raise not_found(f"Subscription {call.path['subscription_id']}")
    return found


def _subscribed_by(call: Call) -> str:
    return f"API key “{call.key.name}”"


# --- list, get ---------------------------------------------------------------------------------------------


async def list_subscriptions(call: Call) -> Reply:
    query: schemas.SubscriptionQuery = call.query
    try:
        after = schemas.decode_cursor(query.cursor)
    except ValueError:
        raise field_problem(422, "query.cursor", "This cursor was not given by this API; start without one.") from None
    statement = select(SubscriptionRow).where(lifecycle.in_workspace(call.workspace_id))
    if after is not None:
        statement = statement.where(SubscriptionRow.id > after)
    if query.channel is not None:
        statement = statement.where(SubscriptionRow.slack_channel_id == query.channel)
    if query.target_type is not None:
        statement = statement.where(SubscriptionRow.target_type == query.target_type)
    if query.enabled is not None:
        statement = statement.where(SubscriptionRow.enabled == query.enabled)
    async with call.database.session() as session:
        rows = list((await session.scalars(statement.order_by(SubscriptionRow.id).limit(query.limit + 1))).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = schemas.encode_cursor(rows[-1].id) if more else None
    return Reply(200, schemas.SubscriptionPage(items=[subscription_out(r) for r in rows],
                                                           next_cursor=cursor))


async def get_subscription(call: Call) -> Reply:
    async with call.database.session() as session:
        return Reply(200, subscription_out(await _subscription(session, call)), etag=True)


# --- create ------------------------------------------------------------------------------------------------


async def choose_connection(session, call: Call, connection_id: int | None):
    """The connection named by id, or the only one the workspace has."""
    if connection_id is not None:
        found = await find_connection(session, call.workspace_id, connection_id)
        if found is None:
            raise field_problem(422, "body.connection_id", f"There is no connection {connection_id} here; "
                                "`GET /connections` lists them.")
        return found
    connections = await connections_of(session, call.workspace_id)
    if len(connections) == 1:
        return connections[0]
    if not connections:
        raise field_problem(422, "body.connection_id", "No PostHog project is connected yet: connect one first "
                            "(`POST /connections`, or `/posthog connect` in Slack).")
    names = ", ".join(f"{c.id}: {c.name} (project {c.project_id})" for c in connections)
    raise field_problem(422, "body.connection_id", f"Several PostHog projects are connected; say which with "
                        f"connection_id: {names}.")


def _read_when(schedule: str, timezone: str, date_range: str | None, attach: str | None, now):
    """The schedule, period and file, read as every door reads them."""
    try:
        zone = canonical_timezone(timezone)
    except ScheduleError as exc:
        raise field_problem(422, "body.timezone", str(exc)) from None
    try:
        when_schedule, when_range, when_attach = lifecycle.read_when(schedule, zone, now=now)
    except (ScheduleError, DateRangeError) as exc:
        raise field_problem(422, "body.schedule", str(exc)) from None
    if date_range is not None:
        if when_range is not None:
            raise field_problem(422, "body.date_range", "The schedule already gives a date range; give it once.")
        try:
            when_range = parse_date_range(date_range)
        except DateRangeError as exc:
            raise field_problem(422, "body.date_range", str(exc)) from None
    if attach is not None and when_attach is not None and attach != when_attach:
        raise field_problem(422, "body.attach_format", "The schedule already asks for another file; give it once.")
    return when_schedule, when_range, attach or when_attach


async def content_title(connection, kind: str, ref: str, settings) -> str:
    """The content's name in PostHog; refuses content that is not there, like Slack and the command line."""
    try:
        content = await fetch(connection, kind, ref, settings, interactive=True)
    except PostHogUnavailable as exc:
        raise ApiProblem(503, str(exc), headers={"Retry-After": "30"}) from None
    except PostHogError as exc:
        raise field_problem(422, "body.content_ref", str(exc)) from None
    return content.name or f"{kind.capitalize()} {ref}"


async def create_subscription(call: Call) -> Reply:
    body: schemas.SubscriptionCreate = call.body
    if (body.slack_channel_id is None) == (body.email_recipients is None):
        raise field_problem(422, "body.slack_channel_id", "A subscription goes to a Slack channel "
                            "(slack_channel_id) or to email addresses (email_recipients): give one of them.")
    if body.slack_channel_id is not None and call.workspace_id is None:
        raise field_problem(422, "body.slack_channel_id", "This key belongs to no Slack workspace: its "
                            "subscriptions go to email addresses.")
    now = utcnow()
    schedule, date_range, attach = _read_when(body.schedule, body.timezone, body.date_range, body.attach_format, now)
    async with call.database.session() as session:
        connection = await choose_connection(session, call, body.connection_id)
    title = await content_title(connection, body.content_type, body.content_ref, call.settings)
    key = call.key
    async with call.database.transaction() as session:
        connection = await session.merge(connection)
        try:
            if body.email_recipients is not None:
                row = await lifecycle.subscribe_by_email(
                    session, call.settings, connection=connection, content_type=body.content_type,
                    content_ref=body.content_ref, schedule=schedule, recipients=body.email_recipients,
                    title=title[:400], subscribed_by=_subscribed_by(call),
                    created_by_slack_user=key.created_by_slack_user, created_by_email=key.created_by_email,
                    workspace_id=call.workspace_id, now=now, date_range=date_range, attach_format=attach,
                    theme=body.theme,
                )
            else:
                row = await lifecycle.create_subscription(
                    session, connection=connection, content_type=body.content_type, content_ref=body.content_ref,
                    schedule=schedule, title=title[:400], target_type="slack",
                    slack_channel_id=body.slack_channel_id, created_by_slack_user=key.created_by_slack_user,
                    created_by_email=key.created_by_email, workspace_id=call.workspace_id, now=now,
                    date_range=date_range, attach_format=attach, theme=body.theme,
                )
        except RecipientError as exc:
            raise field_problem(422, "body.email_recipients", str(exc)) from None
        except ScheduleError as exc:
            raise field_problem(422, "body.schedule", str(exc)) from None
        except lifecycle.ThemeError as exc:
            raise field_problem(422, "body.theme", str(exc)) from None
        await session.refresh(row)
        out = subscription_out(row)
    return Reply(201, out, headers={"Location": f"/api/v1/subscriptions/{out.id}"}, etag=True)


# --- update, delete, pause, resume -------------------------------------------------------------------------


async def update_subscription(call: Call) -> Reply:
    body: schemas.SubscriptionUpdate = call.body
    given = call.given
    now = utcnow()
    async with call.database.transaction() as session:
        row = await _subscription(session, call)
        check_if_match(call, subscription_out(row))
        if "email_recipients" in given and body.email_recipients is not None and row.target_type != "email":
            raise field_problem(422, "body.email_recipients", "This subscription goes to a Slack channel, not to "
                                "email addresses.")
        if "slack_channel_id" in given and body.slack_channel_id is not None and row.target_type != "slack":
            raise field_problem(422, "body.slack_channel_id", "This subscription goes to email addresses, not to "
                                "a Slack channel.")
        if "timezone" in given and "schedule" not in given:
            raise field_problem(422, "body.timezone", "Give the schedule with its time zone.")
        schedule = date_range = None
        if body.schedule is not None:
            schedule, date_range, _attach = _read_when(body.schedule, body.timezone or row.timezone,
                                                       body.date_range, None, now)
        elif body.date_range is not None:
            try:
                date_range = parse_date_range(body.date_range)
            except DateRangeError as exc:
                raise field_problem(422, "body.date_range", str(exc)) from None
        title = body.title
        if body.content_ref is not None and body.content_ref != row.content_ref:
            connection = await session.get(PostHogConnection, row.connection_id)
            title = title or await content_title(connection, row.content_type, body.content_ref, call.settings)
        try:
            lifecycle.edit(row, content_ref=body.content_ref, title=title, slack_channel_id=body.slack_channel_id,
                           schedule=schedule, now=now, date_range=date_range,
                           clear_date_range="date_range" in given and body.date_range is None, theme=body.theme)
            if body.email_recipients is not None:
                await lifecycle.set_recipients(session, row, body.email_recipients, call.settings,
                                               subscribed_by=_subscribed_by(call), confirmed=body.confirm_readd)
        except RecipientError as exc:  # ReaddNeedsConfirmation too: nothing is changed
            raise field_problem(422, "body.email_recipients", str(exc)) from None
        except ScheduleError as exc:
            raise field_problem(422, "body.schedule", str(exc)) from None
        except lifecycle.ThemeError as exc:
            raise field_problem(422, "body.theme", str(exc)) from None
        await session.flush()
        await session.refresh(row)
        out = subscription_out(row)
    return Reply(200, out, etag=True)


async def delete_subscription(call: Call) -> Reply:
    async with call.database.transaction() as session:
        lifecycle.unsubscribe(await _subscription(session, call))
    return Reply(204)


async def pause_subscription(call: Call) -> Reply:
    async with call.database.transaction() as session:
        row = await _subscription(session, call)
        lifecycle.pause(row, f"paused through the API (key “{call.key.name}”)")  # already paused: unchanged
        await session.flush()
        await session.refresh(row)
        out = subscription_out(row)
    return Reply(200, out, etag=True)


async def resume_subscription(call: Call) -> Reply:
    async with call.database.transaction() as session:
        row = await _subscription(session, call)
        if not row.enabled:
            try:
                lifecycle.resume(row)
            except ScheduleError as exc:
                raise ApiProblem(409, f"It cannot be resumed: {exc}") from None
        await session.flush()
        await session.refresh(row)
        out = subscription_out(row)
    return Reply(200, out, etag=True)


# --- deliveries --------------------------------------------------------------------------------------------


def delivery_out(row: DeliveryRow, targets: list[TargetRow]) -> schemas.Delivery:
    return schemas.Delivery(
        id=row.id, subscription_id=row.subscription_id, scheduled_for=row.scheduled_for, trigger=row.trigger,
        status=row.status, attempts=row.attempts, error=row.error, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at,
        targets=[schemas.DeliveryTarget(kind=t.kind, address=t.address, status=t.status, attempts=t.attempts,
                                        error=t.error, sent_at=t.sent_at) for t in targets],
    )


async def send_now(call: Call) -> Reply:
    async with call.database.transaction() as session:
        row = await _subscription(session, call)
        call.take("send")
        delivery, created = await lifecycle.request_delivery_now(session, row)
        out = delivery_out(delivery, [])
    return Reply(202 if created else 200, out)


async def list_deliveries(call: Call) -> Reply:
    query: schemas.PageQuery = call.query
    try:
        before = schemas.decode_cursor(query.cursor)
    except ValueError:
        raise field_problem(422, "query.cursor", "This cursor was not given by this API; start without one.") from None
    async with call.database.session() as session:
        row = await _subscription(session, call)
        statement = select(DeliveryRow).where(DeliveryRow.subscription_id == row.id)
        if before is not None:
            statement = statement.where(DeliveryRow.id < before)  # newest first: the next page is older
        deliveries = list((await session.scalars(
            statement.order_by(DeliveryRow.id.desc()).limit(query.limit + 1))).all())
        more = len(deliveries) > query.limit
        deliveries = deliveries[: query.limit]
        by_delivery: dict[int, list[TargetRow]] = {}
        if deliveries:
            for target in await session.scalars(select(TargetRow).where(
                    TargetRow.delivery_id.in_([d.id for d in deliveries])).order_by(TargetRow.id)):
                by_delivery.setdefault(target.delivery_id, []).append(target)
    items = [delivery_out(d, by_delivery.get(d.id, [])) for d in deliveries]
    cursor = schemas.encode_cursor(deliveries[-1].id) if more else None
    return Reply(200, schemas.DeliveryPage(items=items, next_cursor=cursor))


# --- the declarations --------------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    one = "/subscriptions/{subscription_id}"
    follow = {
        "GetSubscription": Link("getSubscription", BY_ID),
        "UpdateSubscription": Link("updateSubscription", BY_ID),
        "PauseSubscription": Link("pauseSubscription", BY_ID),
        "ResumeSubscription": Link("resumeSubscription", BY_ID),
        "SendSubscriptionNow": Link("sendSubscriptionNow", BY_ID),
        "ListSubscriptionDeliveries": Link("listSubscriptionDeliveries", BY_ID),
        "DeleteSubscription": Link("deleteSubscription", BY_ID),
    }
    tag = "subscriptions"
    page = schemas.SubscriptionPage
    etag = {"ETag": "Pass as If-None-Match to get 304 when unchanged, or as If-Match to change only this version."}
    registry.add(Operation(
        "GET", "/subscriptions", "listSubscriptions", "List subscriptions", tag, list_subscriptions,
        [Outcome(200, "A page of subscriptions, oldest first.", page)], query=schemas.SubscriptionQuery))
    registry.add(Operation(
        "POST", "/subscriptions", "createSubscription", "Create a subscription", tag, create_subscription,
        [Outcome(201, "Created.", schemas.Subscription, links=follow,
                 headers={"Location": "The new subscription.", **etag})],
        body=schemas.SubscriptionCreate, writes=True, idempotent=True, problems=(503,),
        description="Checks the insight or dashboard in PostHog and the recipients as Slack and the command line "
        "do; new email recipients are told who subscribed them and how to unsubscribe."))
    registry.add(Operation(
        "GET", one, "getSubscription", "Get a subscription", tag, get_subscription,
        [Outcome(200, "The subscription.", schemas.Subscription, headers=etag),
         Outcome(304, "Unchanged since the ETag in If-None-Match.")]))
    registry.add(Operation(
        "PATCH", one, "updateSubscription", "Change a subscription", tag, update_subscription,
        [Outcome(200, "Changed.", schemas.Subscription, headers=etag)],
        body=schemas.SubscriptionUpdate, writes=True, if_match=True, problems=(503,),
        description="Fields left out stay as they are. A new schedule counts from now."))
    registry.add(Operation(
        "DELETE", one, "deleteSubscription", "Delete a subscription", tag, delete_subscription,
        [Outcome(204, "Deleted: it will not be delivered again.")], writes=True))
    registry.add(Operation(
        "POST", one + "/pause", "pauseSubscription", "Pause a subscription", tag, pause_subscription,
        [Outcome(200, "Paused (or already paused).", schemas.Subscription, headers=etag)], writes=True))
    registry.add(Operation(
        "POST", one + "/resume", "resumeSubscription", "Resume a subscription", tag, resume_subscription,
        [Outcome(200, "Running again from its next occurrence; nothing missed is caught up.", schemas.Subscription,
                 headers=etag)], writes=True, problems=(409,)))
    registry.add(Operation(
        "POST", one + "/deliveries", "sendSubscriptionNow", "Deliver a subscription now", tag, send_now,
        [Outcome(202, "A delivery is due now; a worker sends it within moments.", schemas.Delivery),
         Outcome(200, "A delivery asked for by hand is already on its way; this is it.", schemas.Delivery)],
        writes=True, description="Counts against the fair limits on sends (RATE_LIMITS_*), as Slack's Send now does."))
    registry.add(Operation(
        "GET", one + "/deliveries", "listSubscriptionDeliveries", "Delivery history", tag, list_deliveries,
        [Outcome(200, "A page of deliveries, newest first, with each target's outcome.",
                 schemas.DeliveryPage)], query=schemas.PageQuery))
