"""`/exports`: start an export, follow its progress, get its file's expiring link. Through exports/ as Slack and the
command line: the same request rules (`ExportRequest.validate`), the same jobs, claimed by a worker."""

from __future__ import annotations

from sqlalchemy import select

from core.models import ExportedAsset, utcnow
from exports import ExportError, ExportRequest, download_link, export_date_range, make_storage, start_export

from . import schemas
from .pipeline import Call
from .problems import ApiProblem, field_problem, not_found
from .registry import Link, Operation, Outcome, Registry, Reply
from .subscriptions import choose_connection


def export_out(row: ExportedAsset) -> schemas.Export:
    return schemas.Export(
        id=row.id, kind=row.content_type, ref=row.content_ref, format=row.format, status=row.status,
        rows_done=row.rows_done, row_count=row.row_count, size_bytes=row.size_bytes, truncated=row.truncated,
        filename=row.filename, error=row.error, created_at=row.created_at, started_at=row.started_at,
        finished_at=row.finished_at, expires_at=row.expires_at,
    )


async def _export(session, call: Call) -> ExportedAsset:
    wanted = call.path["export_id"]
    owner = (ExportedAsset.workspace_id.is_(None) if call.workspace_id is None
             else ExportedAsset.workspace_id == call.workspace_id)
    found = await session.scalar(select(ExportedAsset).where(ExportedAsset.id == wanted, owner))
    if found is None:
        raise not_found(f"Export {wanted}")
    return found


async def create_export(call: Call) -> Reply:
    body: schemas.ExportCreate = call.body
    try:
        period = export_date_range(body.date_range)
        request = ExportRequest(
            kind=body.kind, ref=body.ref.strip(), format=body.format, where=body.where, bom=body.bom,
            date_from=period.date_from if period else None, date_to=period.date_to if period else None,
            events=tuple(e.strip() for e in body.events if e.strip()),
            columns=tuple(c.strip() for c in body.columns if c.strip()),
        )
        async with call.database.transaction() as session:
            connection = await choose_connection(session, call, body.connection_id)
            request.validate()  # a request that cannot be made costs nothing of the budget
            call.take("export")
            row = await start_export(session, request, connection=connection, workspace_id=call.workspace_id)
            out = export_out(row)
    except ExportError as exc:
        raise ApiProblem(422, str(exc)) from None
    return Reply(202, out, headers={"Location": f"/api/v1/exports/{out.id}"}, etag=True)


async def get_export(call: Call) -> Reply:
    async with call.database.session() as session:
        return Reply(200, export_out(await _export(session, call)), etag=True)


async def download_export(call: Call) -> Reply:
    async with call.database.session() as session:
        row = await _export(session, call)
    if row.status == "failed":
        raise ApiProblem(409, f"Export {row.id} failed: {row.error or 'no reason was recorded'}")
    if row.status != "ready" or not row.storage_key:
        raise ApiProblem(409, f"Export {row.id} is not ready yet ({row.status}, {row.rows_done:,} rows so far). "
                         "Ask again in a moment.", headers={"Retry-After": "2"})
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise ApiProblem(410, f"Export {row.id} expired; its file was deleted. Export the data again.")
    try:
        url, expires = await download_link(make_storage(call.settings), row)
    except ValueError as exc:  # a storage key the storage refuses: never a link to another file
        raise field_problem(409, "path.export_id", str(exc)) from None
    return Reply(200, schemas.Download(url=url, expires_at=expires, filename=row.filename, size_bytes=row.size_bytes))


def register(registry: Registry) -> None:
    tag = "exports"
    one = "/exports/{export_id}"
    by_id = {"export_id": "$response.body#/id"}
    registry.add(Operation(
        "POST", "/exports", "createExport", "Start an export", tag, create_export,
        [Outcome(202, "Recorded; a worker runs it. Follow it with `GET /exports/{id}`.", schemas.Export,
                 links={"GetExport": Link("getExport", by_id), "DownloadExport": Link("downloadExport", by_id)},
                 headers={"Location": "The export."})],
        body=schemas.ExportCreate, writes=True, idempotent=True))
    registry.add(Operation(
        "GET", one, "getExport", "An export's status and progress", tag, get_export,
        [Outcome(200, "The export.", schemas.Export, headers={"ETag": "Changes as the export progresses."}),
         Outcome(304, "Unchanged since the ETag in If-None-Match.")]))
    registry.add(Operation(
        "GET", one + "/download", "downloadExport", "The file's expiring link", tag, download_export,
        [Outcome(200, "A link to the file, valid until `expires_at` (with the file, at most a week).",
                 schemas.Download)], problems=(409, 410)))
