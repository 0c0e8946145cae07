"""The audit trail: every change to a subscription, a PostHog connection or an API key is recorded with who made
it, through which door (Slack, the API, the command line, an email link, the scheduler), from where, when and
what changed.

Nothing has to remember to call it: each door says who is acting (`acting_as`), and the changes are read off the
database session as they are flushed, in the same transaction, so a change and its record land together or not at
all. Work nobody asked for (the scheduler pausing a failing subscription) is recorded as the system's.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.models import ApiKey, AuditEvent, PostHogConnection, Share, Subscription

AUDITED: dict[type, str] = {Subscription: "subscription", PostHogConnection: "connection", ApiKey: "api_key",
                           Share: "share"}
# Recorded as changed, never with their values.
SECRET_COLUMNS = {"api_key", "secret_hash", "token_hash", "previous_token_hash", "password_hash"}
# Bookkeeping of the service itself, not changes anyone made.
QUIET_COLUMNS = {"id", "created_at", "updated_at", "next_delivery_at", "last_delivery_at", "consecutive_failures",
                 "last_used_at"}


@dataclass(frozen=True)
class Actor:
    door: str  # "slack", "api", "cli", "email", "scheduler"
    who: str  # a Slack user id, an API key's name and prefix, an operating-system user, an address
    origin: str = ""  # where from: the Slack workspace, the client's address, the host

    @property
    def label(self) -> str:
        return f"{self.door}:{self.who}"


def command_line_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "unknown"
    return Actor("cli", user, socket.gethostname())


SYSTEM = Actor("scheduler", "system", socket.gethostname())
_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Changes flushed inside (and in tasks started inside) are recorded as `actor`'s."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def act_from_now_on(actor: Actor) -> None:
    """`actor` acts for the rest of the current task and the tasks it starts: a web request's, whose handler
    runs after the code that knows who is asking (Bolt's middleware) has returned."""
    _actor.set(actor)


def current_actor() -> Actor:
    return _actor.get() or SYSTEM


# --- recording -------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A column value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _columns(obj: object) -> list[str]:
    return [column.key for column in inspect(type(obj)).column_attrs if column.key not in QUIET_COLUMNS]


def _changes(obj: object) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes = {}
    modified = state.committed_state  # the attributes set since the row was loaded: only they can have history
    for name in _columns(obj):
        if name not in modified:
            continue
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before == after:
            continue
        changes[name] = ["(set)", "(changed)"] if name in SECRET_COLUMNS else [_plain(before), _plain(after)]
    return changes


def _created(obj: object) -> dict[str, list[Any]]:
    changes = {}
    for name in _columns(obj):
        value = getattr(obj, name)
        if value is not None and value != "" and value != []:
            changes[name] = [None, "(set)" if name in SECRET_COLUMNS else _plain(value)]
    return changes


def _action(obj: object, changes: dict[str, list[Any]]) -> str:
    if "deleted_at" in changes and changes["deleted_at"][1] is not None:
        return "deleted"
    if "revoked_at" in changes and changes["revoked_at"][1] is not None:
        return "revoked"
    if set(changes) <= {"enabled", "paused_reason"} and "enabled" in changes:
        return "resumed" if changes["enabled"][1] else "paused"
    return "changed"


def _event(obj: object, action: str, changes: dict[str, list[Any]]) -> AuditEvent:
    actor = current_actor()
    workspace_id = getattr(obj, "workspace_id", None)
    return AuditEvent(
        workspace_id=workspace_id, object_type=AUDITED[type(obj)], object_id=obj.id, action=action,
        changes=changes, actor=actor.label[:255], door=actor.door, origin=actor.origin[:255],
    )


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: object) -> None:
    # History is still there in after_flush, and new rows have their ids; the records are added after the flush
    # (`_add`) and written by the next one, which commit runs.
    events = []
    for obj in session.new:
        if type(obj) in AUDITED:
            events.append(_event(obj, "created", _created(obj)))
    for obj in session.dirty:
        if type(obj) in AUDITED and (changes := _changes(obj)):
            events.append(_event(obj, _action(obj, changes), changes))
    for obj in session.deleted:
        if type(obj) in AUDITED:
            events.append(_event(obj, "deleted", {}))
    if events:
        session.info.setdefault("audit_events", []).extend(events)


@event.listens_for(Session, "after_flush_postexec")
def _add(session: Session, _context: object) -> None:
    pending = session.info.pop("audit_events", None)
    if pending:
        session.add_all(pending)


# --- reading ---------------------------------------------------------------------------------------------


async def trail(
    session: AsyncSession,
    *,
    workspace_id: int | None = None,
    all_workspaces: bool = False,
    since: datetime | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """The newest events first, of one workspace (None: the operator's own), or of all with `all_workspaces`;
    `before_id` continues a listing after its last event."""
    statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    if not all_workspaces:
        statement = statement.where(AuditEvent.workspace_id.is_(None) if workspace_id is None
                                    else AuditEvent.workspace_id == workspace_id)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if object_type is not None:
        statement = statement.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        statement = statement.where(AuditEvent.object_id == object_id)
    return list((await session.scalars(statement)).all())


def describe(event_: AuditEvent) -> str:
    """One line: when, who, door and origin, what, and the changed fields."""
    fields = ", ".join(
        f"{name}: {_short(before)} → {_short(after)}" for name, (before, after) in event_.changes.items()
    )
    origin = f" from {event_.origin}" if event_.origin else ""
    return (f"{event_.at:%Y-%m-%d %H:%M:%S} UTC  {event_.actor}{origin}  {event_.object_type} {event_.object_id} "
            f"{event_.action}" + (f"  ({fields})" if fields else ""))


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
