"""`/audit`: who changed the workspace's subscriptions, connections and API keys (core/audit.py), newest first."""

from __future__ import annotations

from core.audit import trail

from . import schemas
from .pipeline import Call
from .problems import field_problem
from .registry import Operation, Outcome, Registry, Reply


async def list_audit(call: Call) -> Reply:
    query: schemas.AuditQuery = call.query
    try:
        before = schemas.decode_cursor(query.cursor)
    except ValueError:
        raise field_problem(422, "query.cursor", "This cursor was not given by this API; start without one.") from None
    async with call.database.session() as session:
        events = await trail(session, workspace_id=call.workspace_id, since=query.since,
                             object_type=query.object_type, object_id=query.object_id, limit=query.limit + 1,
                             before_id=before)
    more = len(events) > query.limit
    events = events[: query.limit]
    items = [schemas.AuditRecord(id=e.id, at=e.at, object_type=e.object_type, object_id=e.object_id,
                                 action=e.action, changes=e.changes, actor=e.actor, door=e.door, origin=e.origin)
             for e in events]
    return Reply(200, schemas.AuditPage(items=items, next_cursor=schemas.encode_cursor(events[-1].id) if more
                                        else None))


def register(registry: Registry) -> None:
    registry.add(Operation(
        "GET", "/audit", "listAudit", "Who changed what", "audit", list_audit,
        [Outcome(200, "The changes, newest first.", schemas.AuditPage)],
        query=schemas.AuditQuery))
