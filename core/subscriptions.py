"""The life of a subscription: create, reschedule, pause, resume, unsubscribe, ask for a delivery now.

Every door (Slack, the command line, unsubscribe links, the scheduler, the demo) changes subscriptions only
through these functions, so the rules live once: the schedule stored on a row and its next delivery time never
disagree, a pause always carries its reason, a resume never delivers what was missed while paused, and two
"Send now" requests at once make one delivery.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.date_ranges import DateRange, split_date_range
from core.models import Delivery, PostHogConnection, Subscription, WelcomeNotice, utcnow
from core.recipients import RecipientError, check_recipients
from core.schedule_phrases import parse_schedule
from core.schedules import Schedule, ScheduleError
from core.settings import Settings

SCHEDULE_FIELDS = (
    "frequency", "interval", "byweekday", "bysetpos", "bymonthday", "hour", "minute", "timezone",
    "start_date", "until_date", "count",
)


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule.from_fields({name: getattr(subscription, name) for name in SCHEDULE_FIELDS})


def date_range_of(subscription: Subscription) -> DateRange | None:
    """The period the subscription shows, or None: the insight's or dashboard's own, as saved in PostHog."""
    return DateRange.from_fields({"date_from": subscription.date_from, "date_to": subscription.date_to})


ATTACH_FORMATS = ("csv", "xlsx", "pdf")
THEMES = ("light", "dark")  # the palettes the renderer draws (render/theme.py)


class ThemeError(ValueError):
    """A theme that is not one of THEMES; `str()` is the message for the person who gave it."""


def read_theme(value: object) -> str:
    """A theme as every door takes it ("Dark", " light "), or ThemeError naming the choices."""
    theme = value.strip().lower() if isinstance(value, str) else ""
    if theme not in THEMES:
        raise ThemeError(f"“{str(value)[:20]}” is not a theme: use light or dark.")
    return theme
_WITH_FORMAT = re.compile(r"(?:^|\s)(?:and\s+)?with\s+(?:an?\s+)?(\S+?)(?:\s+(?:file|attached|attachment))?(?=\s|$)",
                          re.IGNORECASE)


class When(NamedTuple):
    schedule: Schedule
    date_range: DateRange | None
    attach: str | None  # csv | xlsx | pdf: the data that goes with every delivery


def read_when(text: str, timezone: str, *, now: datetime | None = None) -> When:
    """A schedule phrase as every door takes it, with an optional date range and file: "weekly over the last
    7 days with xlsx" -> (every Monday at 09:00, last 7 days, xlsx). A schedule starts on today's date in its own
    zone (what "every 2 weeks" counts from). Raises ScheduleError or DateRangeError (both ValueErrors) with the
    message for the person who typed it."""
    try:
        today = (now or utcnow()).astimezone(ZoneInfo(timezone)).date()
    except (ValueError, KeyError):  # not a zone: parse_schedule says so, with the same message everywhere
        today = (now or utcnow()).date()
    attach = None
    match = _WITH_FORMAT.search(text)
    if match:
        attach = match.group(1).lower().lstrip(".")
        if attach not in ATTACH_FORMATS:
            raise ScheduleError(
                f"“with {match.group(1)[:20]}” is not a file I can attach: use `with csv`, `with xlsx` or `with pdf`."
            )
        text = (text[: match.start()] + " " + text[match.end():]).strip()
    schedule_text, date_range = split_date_range(text)
    return When(parse_schedule(schedule_text, timezone, today=today), date_range, attach)


def apply_schedule(subscription: Subscription, schedule: Schedule, *, now: datetime | None = None) -> None:
    """Store `schedule` on the row and compute the next delivery strictly after `now`."""
    schedule.validate()
    fields = schedule.to_fields()
    for name in SCHEDULE_FIELDS:
        setattr(subscription, name, fields[name])
    subscription.next_delivery_at = schedule.next_after(now or utcnow())


async def create_subscription(
    session: AsyncSession,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    schedule: Schedule,
    title: str = "",
    target_type: str,
    slack_channel_id: str | None = None,
    slack_channel_name: str | None = None,
    email_recipients: list[str] | None = None,
    created_by_slack_user: str | None = None,
    created_by_email: str | None = None,
    workspace_id: int | None = None,
    now: datetime | None = None,
    date_range: DateRange | None = None,
    attach_format: str | None = None,
    theme: str = "light",
) -> Subscription:
    """A new subscription; `date_range` is the period every delivery shows (None: the content's own);
    `attach_format` a file of the data that goes with every delivery (csv, xlsx or pdf); `theme` the palette
    of its images (light or dark)."""
    if attach_format not in (None, *ATTACH_FORMATS):
        raise ValueError(f"attach_format must be one of {ATTACH_FORMATS}, not {attach_format!r}")
    theme = read_theme(theme)
    if content_type not in ("insight", "dashboard"):
        raise ValueError(f"content_type must be insight or dashboard, not {content_type!r}")
    if target_type not in ("slack", "email"):
        raise ValueError(f"target_type must be slack or email, not {target_type!r}")
    subscription = Subscription(
        workspace_id=workspace_id,
        connection_id=connection.id,
        content_type=content_type,
        content_ref=str(content_ref),
        title=title,
        target_type=target_type,
        slack_channel_id=slack_channel_id,
        slack_channel_name=slack_channel_name,
        email_recipients=list(email_recipients or []),
        created_by_slack_user=created_by_slack_user or None,
        created_by_email=created_by_email or None,
        attach_format=attach_format,
        theme=theme,
        **(date_range.to_fields() if date_range is not None else {}),
    )
    apply_schedule(subscription, schedule, now=now)
    session.add(subscription)
    await session.flush()
    return subscription


# --- whose subscription -----------------------------------------------------------------------------------


def in_workspace(workspace_id: int | None):
    """The condition that keeps workspaces apart: a workspace's subscriptions, or with None the operator's (those
    made on the command line), never deleted ones."""
    owner = Subscription.workspace_id.is_(None) if workspace_id is None else Subscription.workspace_id == workspace_id
    return and_(owner, Subscription.deleted_at.is_(None))


async def find_subscription(session: AsyncSession, workspace_id: int | None, subscription_id: object
                            ) -> Subscription | None:
    """The workspace's subscription with this id, or None: an id of another workspace is looked up exactly like
    an unknown one (or a malformed one, such as "#x" or 0)."""
    try:
        key = int(str(subscription_id).lstrip("#"))
    except (TypeError, ValueError):
        return None
    if not 0 < key < 2**31:  # the id columns are 32-bit on PostgreSQL
        return None
    return await session.scalar(select(Subscription).where(Subscription.id == key, in_workspace(workspace_id)))


# --- who may see a subscription ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """A person looking at a workspace's subscriptions, with what visibility depends on."""

    slack_user: str | None = None
    is_admin: bool = False  # a workspace admin or owner
    member_of: frozenset[str] = frozenset()  # the private channels the viewer is in
    private_channels: frozenset[str] | None = frozenset()  # the private channels known; None: could not tell


def can_see(subscription: Subscription, viewer: Viewer) -> bool:
    """Its creator sees it; an email subscription is otherwise seen by workspace admins only (it lists people's
    addresses); a private channel's by that channel's members only. When the private channels could not be
    told (Slack did not answer), only one's own are shown."""
    if viewer.slack_user and subscription.created_by_slack_user == viewer.slack_user:
        return True
    if subscription.target_type == "email":
        return viewer.is_admin
    if viewer.private_channels is None:
        return False
    channel = subscription.slack_channel_id or ""
    return channel not in viewer.private_channels or channel in viewer.member_of


def may_see(viewer: Viewer):
    """The part of `can_see` a query can apply (so that a list never loads what it may not show): a member who
    is no admin sees no one else's email subscription. `can_see` still decides each row."""
    if viewer.is_admin:
        return true()
    return or_(Subscription.target_type != "email", Subscription.created_by_slack_user == (viewer.slack_user or ""))


# --- email recipients --------------------------------------------------------------------------------------


class ReaddNeedsConfirmation(RecipientError):
    """Some addresses unsubscribed themselves from this subscription: adding them back needs a confirmation."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        who = ", ".join(addresses)
        super().__init__(
            f"{who} unsubscribed {'themselves' if len(addresses) > 1 else 'themself'} from this subscription. "
            "Adding them back sends them reports again: confirm to add them anyway, or leave them out."
        )


async def subscribe_by_email(
    session: AsyncSession,
    settings: Settings,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    schedule: Schedule,
    recipients: list[str],
    title: str = "",
    subscribed_by: str = "",
    created_by_slack_user: str | None = None,
    created_by_email: str | None = None,
    workspace_id: int | None = None,
    now: datetime | None = None,
    date_range: DateRange | None = None,
    attach_format: str | None = None,
    theme: str = "light",
) -> Subscription:
    """An email subscription. The recipients pass the operator's policy (`check_recipients`) or nothing is
    created; each is then told, once, who subscribed them (`subscribed_by`, e.g. "Ada in Acme") and how to
    unsubscribe."""
    addresses = check_recipients(recipients, settings)
    subscription = await create_subscription(
        session, connection=connection, content_type=content_type, content_ref=content_ref, schedule=schedule,
        title=title, target_type="email", email_recipients=addresses, created_by_slack_user=created_by_slack_user,
        created_by_email=created_by_email, workspace_id=workspace_id, now=now, date_range=date_range,
        attach_format=attach_format, theme=theme,
    )
    await _welcome(session, subscription, addresses, subscribed_by)
    await session.flush()
    return subscription


async def set_recipients(
    session: AsyncSession,
    subscription: Subscription,
    recipients: list[str],
    settings: Settings,
    *,
    subscribed_by: str = "",
    confirmed: Collection[str] = (),
) -> list[str]:
    """Replace an email subscription's recipients; returns the addresses added (each gets the welcome notice).
    An address that unsubscribed itself is only put back when it is among `confirmed` (the addresses the editor
    was warned about); otherwise nothing changes and ReaddNeedsConfirmation names them."""
    addresses = check_recipients(recipients, settings)
    current = {a.casefold() for a in subscription.email_recipients or []}
    added = [a for a in addresses if a.casefold() not in current]
    left = {a.casefold() for a in subscription.unsubscribed_recipients or []}
    readded = [a for a in added if a.casefold() in left]
    warned = {a.casefold() for a in confirmed}
    if any(a.casefold() not in warned for a in readded):
        raise ReaddNeedsConfirmation(readded)
    back = {a.casefold() for a in readded}
    subscription.email_recipients = addresses  # new lists: JSON columns do not track in-place edits
    subscription.unsubscribed_recipients = [
        a for a in subscription.unsubscribed_recipients or [] if a.casefold() not in back
    ]
    await _welcome(session, subscription, added, subscribed_by)
    await session.flush()
    return added


async def _welcome(session: AsyncSession, subscription: Subscription, addresses: list[str], subscribed_by: str
                   ) -> None:
    """Record a welcome notice for each address that has none waiting yet."""
    waiting = {a.casefold() for a in await session.scalars(
        select(WelcomeNotice.address).where(WelcomeNotice.subscription_id == subscription.id)
    )}
    for address in addresses:
        if address.casefold() not in waiting:
            session.add(WelcomeNotice(subscription_id=subscription.id, address=address,
                                      subscribed_by=subscribed_by[:255]))


def remove_recipient(subscription: Subscription, address: str, *, by_themselves: bool) -> bool:
    """Take `address` off an email subscription (False when it was not on it). An address that unsubscribed
    itself is remembered, so that an edit does not put it back unasked. The last recipient leaving pauses it."""
    if not any(str(r).casefold() == address.casefold() for r in subscription.email_recipients or []):
        return False
    remaining = [r for r in subscription.email_recipients if str(r).casefold() != address.casefold()]
    subscription.email_recipients = remaining
    if by_themselves:
        subscription.unsubscribed_recipients = [*(subscription.unsubscribed_recipients or []), address]
    if not remaining:
        pause(subscription, f"{NO_RECIPIENTS_REASON} (the last was {address}).")
    return True


def restore_recipient(subscription: Subscription, address: str) -> bool:
    """Undo `remove_recipient` (an unsubscribe's Undo button); a subscription paused because everyone had left
    delivers again. False when the address is already a recipient."""
    if any(str(r).casefold() == address.casefold() for r in subscription.email_recipients or []):
        return False
    subscription.email_recipients = [*(subscription.email_recipients or []), address]
    subscription.unsubscribed_recipients = [
        a for a in subscription.unsubscribed_recipients or [] if a.casefold() != address.casefold()
    ]
    if not subscription.enabled and (subscription.paused_reason or "").startswith(NO_RECIPIENTS_REASON):
        try:
            resume(subscription)
        except ValueError:  # a stored schedule that no longer validates: the scheduler reports it
            pass
    return True


async def find_or_create_email_subscription(
    session: AsyncSession,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    schedule: Schedule,
    email_recipients: list[str],
    title: str = "",
    created_by_email: str | None = None,
) -> tuple[Subscription, bool]:
    """The live email subscription of `connection` to this content, or a new one. Returns (it, created)."""
    found = await session.scalar(
        select(Subscription).where(
            Subscription.connection_id == connection.id,
            Subscription.content_type == content_type,
            Subscription.content_ref == str(content_ref),
            Subscription.target_type == "email",
            Subscription.deleted_at.is_(None),
        ).order_by(Subscription.id)
    )
    if found is not None:
        return found, False
    created = await create_subscription(
        session, connection=connection, content_type=content_type, content_ref=content_ref, schedule=schedule,
        title=title, target_type="email", email_recipients=email_recipients, created_by_email=created_by_email,
    )
    return created, True


def edit(
    subscription: Subscription,
    *,
    content_ref: str | None = None,
    title: str | None = None,
    slack_channel_id: str | None = None,
    schedule: Schedule | None = None,
    now: datetime | None = None,
    date_range: DateRange | None = None,
    clear_date_range: bool = False,
    theme: str | None = None,
) -> None:
    """Change what, where or when; what is not given stays. A new schedule counts from now. `date_range`
    replaces the period shown; `clear_date_range=True` goes back to the content's own (not both at once);
    `theme` the images' palette."""
    if date_range is not None and clear_date_range:
        raise ValueError("Give a new date range or clear it, not both.")
    theme = read_theme(theme) if theme is not None else None  # checked first: a bad theme changes nothing
    if schedule is not None:
        apply_schedule(subscription, schedule, now=now)  # validates first: a bad schedule changes nothing
    if date_range is not None or clear_date_range:
        fields = date_range.to_fields() if date_range is not None else {"date_from": None, "date_to": None}
        subscription.date_from, subscription.date_to = fields["date_from"], fields["date_to"]
    if content_ref is not None:
        subscription.content_ref = str(content_ref)
    if title:
        subscription.title = title[:400]
    if slack_channel_id is not None and slack_channel_id != subscription.slack_channel_id:
        subscription.slack_channel_id = slack_channel_id
        subscription.slack_channel_name = None  # learnt again from Slack
    if theme is not None:
        subscription.theme = theme


NO_RECIPIENTS_REASON = "Every email recipient unsubscribed"


# --- pausing, resuming, unsubscribing ----------------------------------------------------------------------


def pause(subscription: Subscription, reason: str) -> bool:
    """Stop delivering until someone resumes it, saying why. False when it was already paused (its first reason
    stays, and its creator is not told twice)."""
    if not subscription.enabled:
        return False
    subscription.enabled = False
    subscription.paused_reason = reason
    return True


def resume(subscription: Subscription, *, now: datetime | None = None) -> None:
    """Deliver again from the next occurrence after now: a subscription paused for a month does not deliver its
    missed occurrences at once. Raises ScheduleError when its stored schedule no longer validates."""
    apply_schedule(subscription, schedule_of(subscription), now=now)
    subscription.enabled = True
    subscription.paused_reason = None
    subscription.consecutive_failures = 0


def unsubscribe(subscription: Subscription) -> None:
    """Delete it for its users (the row and its history stay for the record)."""
    subscription.enabled = False
    subscription.deleted_at = utcnow()
    subscription.next_delivery_at = None


# --- delivering now ----------------------------------------------------------------------------------------


async def pending_manual_delivery(session: AsyncSession, subscription: Subscription) -> Delivery | None:
    return await session.scalar(
        select(Delivery).where(
            Delivery.subscription_id == subscription.id,
            Delivery.trigger == "manual",
            Delivery.status.in_(("pending", "running")),
        )
    )


async def _lock(session: AsyncSession, subscription: Subscription) -> None:
    """Hold the subscription's row until the transaction ends, so that two "Send now" requests at once cannot
    both find no pending delivery and both add one: the second waits here, then sees the first's delivery."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(Subscription.id).where(Subscription.id == subscription.id).with_for_update())
        return
    # SQLite has no row locks (FOR UPDATE is ignored) and runs reads outside the write transaction; a write
    # that changes nothing starts that transaction, which holds the database's only write lock.
    table = Subscription.__table__
    await session.execute(update(table).where(table.c.id == subscription.id).values(updated_at=table.c.updated_at))


async def request_delivery_now(
    session: AsyncSession, subscription: Subscription, *, now: datetime | None = None
) -> tuple[Delivery, bool]:
    """Record a delivery due now for the scheduler to claim, unless one asked for by hand is already on its
    way. Returns (the delivery, whether this call created it). A paused subscription is delivered once and
    stays paused for its schedule."""
    await _lock(session, subscription)
    existing = await pending_manual_delivery(session, subscription)
    if existing is not None:
        return existing, False
    delivery = Delivery(
        subscription_id=subscription.id, scheduled_for=now or utcnow(), trigger="manual", status="pending"
    )
    session.add(delivery)
    await session.flush()
    return delivery, True


async def demo_connection(session: AsyncSession, workspace_id: int | None = None) -> PostHogConnection:
    """The connection to the bundled demo project, created on first use."""
    found = await session.scalar(
        select(PostHogConnection).where(
            PostHogConnection.host == "demo",
            PostHogConnection.workspace_id.is_(None) if workspace_id is None
            else PostHogConnection.workspace_id == workspace_id,
        )
    )
    if found:
        return found
    connection = PostHogConnection(
        workspace_id=workspace_id, name="Demo project", host="demo", project_id=1, api_key=None
    )
    session.add(connection)
    await session.flush()
    return connection
