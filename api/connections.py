"""`/connections`: the PostHog projects a workspace fetches from. A new key is checked with PostHog before it is
saved (posthog_api's check, as Slack's connect form does); a key is never returned."""

from __future__ import annotations

from core.models import PostHogConnection
from posthog_api import check_connection, connections_of, save_connection

from . import schemas
from .pipeline import Call
from .problems import ApiProblem, FieldProblem
from .registry import Operation, Outcome, Registry, Reply


def connection_out(row: PostHogConnection) -> schemas.Connection:
    return schemas.Connection(id=row.id, name=row.name, host=row.host, project_id=row.project_id,
                              created_at=row.created_at)


async def list_connections(call: Call) -> Reply:
    async with call.database.session() as session:
        rows = await connections_of(session, call.workspace_id)
        return Reply(200, schemas.ConnectionList(items=[connection_out(r) for r in rows]))


async def create_connection(call: Call) -> Reply:
    body: schemas.ConnectionCreate = call.body
    call.take("connect")  # each check calls a host someone typed
    checked = await check_connection(body.host, str(body.project_id), body.api_key, call.settings)
    if isinstance(checked, dict):
        errors = [FieldProblem(field=f"body.{name}", message=message) for name, message in checked.items()]
        raise ApiProblem(422, "; ".join(checked.values()), errors=errors)
    async with call.database.transaction() as session:
        row = await save_connection(session, checked, workspace_id=call.workspace_id,
                                    created_by=f"API key “{call.key.name}”")
        await session.flush()
        await session.refresh(row)
        out = connection_out(row)
    return Reply(201, out)


def register(registry: Registry) -> None:
    tag = "connections"
    registry.add(Operation(
        "GET", "/connections", "listConnections", "List connected PostHog projects", tag, list_connections,
        [Outcome(200, "The connections, oldest first.", schemas.ConnectionList)]))
    registry.add(Operation(
        "POST", "/connections", "createConnection", "Connect a PostHog project", tag, create_connection,
        [Outcome(201, "Connected (the key of the same project on the same host is replaced).", schemas.Connection)],
        body=schemas.ConnectionCreate, writes=True, idempotent=True,
        description="The personal API key is checked with PostHog first; a key PostHog refuses is not saved."))
