"""Export jobs: asked for by a door, claimed once by a worker, written as PostHog's pages arrive, stored, then
announced to whoever asked.

A job is an `ExportedAsset` row. Claiming works like deliveries': `FOR UPDATE SKIP LOCKED` on PostgreSQL and a
lease the running worker renews with every page it writes (saving its progress in `rows_done`). A worker that
dies leaves its lease to expire; another one claims the job and starts it again from the beginning into a new
file. A file is stored and the row marked ready only by the worker that still holds the claim, so a half-written
file is never marked done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select

from core import metrics
from core.db import Database
from core.logs import log_context
from core.models import ExportedAsset, PostHogConnection, utcnow
from core.settings import Settings
from posthog_api import PostHogError, fetch
from posthog_api.sources import data_pages_for

from .requests import ExportError, ExportRequest
from .storage import Storage, make_storage
from .tables import Table, dashboard_tables, insight_table, with_dates
from .writers import WRITERS

log = logging.getLogger(__name__)

Announce = Callable[[ExportedAsset], Awaitable[None]]
DATE_COLUMNS = {"timestamp", "created_at", "last_seen", "updated_at"}


@dataclass(frozen=True)
class ExportPolicy:
    worker_id: str
    lease: timedelta = timedelta(minutes=5)


async def start_export(
    session,
    request: ExportRequest,
    *,
    connection: PostHogConnection,
    workspace_id: int | None = None,
    requested_by_slack_user: str | None = None,
    now: datetime | None = None,
    claim_for: ExportPolicy | None = None,
    requester_is_guest: bool = False,
) -> ExportedAsset:
    """Record an export for a worker to run, or, with `claim_for`, already claimed by the caller that runs it
    itself (the command line, which must end with the file in hand: no worker can take it first). Raises
    ExportError for a request that cannot be made, and nothing is recorded."""
    request.validate()
    if request.is_data and requester_is_guest:
        # Raw events and people are the project's personal data: workspace members only, not Slack guests.
        raise ExportError("Guests of this workspace can export insights and dashboards, not raw events or people. "
                          "Ask a member of the workspace.")
    now = now or utcnow()
    asset = ExportedAsset(
        workspace_id=workspace_id, connection_id=connection.id, content_type=request.kind,
        content_ref=request.ref, format=request.format, request=request.to_json(), status="pending",
        requested_by_slack_user=requested_by_slack_user, created_at=now,
    )
    if claim_for is not None:
        asset.status, asset.claimed_by, asset.attempts, asset.started_at = "running", claim_for.worker_id, 1, now
        asset.lease_expires_at = now + claim_for.lease
    session.add(asset)
    await session.flush()
    return asset


async def claim_exports(
    database: Database, now: datetime, policy: ExportPolicy, *, limit: int = 1, only: list[int] | None = None
) -> list[int]:
    """Claim waiting exports, and exports whose worker stopped renewing its lease."""
    async with database.sessions() as session:
        async with session.begin():
            statement = (
                select(ExportedAsset)
                .where(or_(ExportedAsset.status == "pending",
                           and_(ExportedAsset.status == "running", ExportedAsset.lease_expires_at < now)))
                .order_by(ExportedAsset.id)
                .limit(limit)
            )
            if only is not None:
                statement = statement.where(ExportedAsset.id.in_(only))
            if session.bind.dialect.name == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            assets = (await session.scalars(statement)).all()
            for asset in assets:
                if asset.status == "running":
                    log.warning("export %s: lease of %s expired, starting it again", asset.id, asset.claimed_by)
                asset.status = "running"
                asset.claimed_by = policy.worker_id
                asset.lease_expires_at = now + policy.lease
                asset.attempts += 1
                asset.rows_done = 0
                asset.started_at = now
            return [asset.id for asset in assets]


class NoLongerOurs(Exception):
    """Another worker took the export over (this one's lease lapsed): stop writing."""


class ExportRunner:
    """Runs claimed exports in this process."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        storage: Storage,
        policy: ExportPolicy,
        *,
        renderer=None,  # for PDFs
        announce: Announce | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.settings = settings
        self.storage = storage
        self.policy = policy
        self.renderer = renderer
        self.announce = announce
        self.clock = clock

    async def run(self, asset_id: int, *, copy_to: Path | None = None,
                  on_progress: Callable[[int], None] | None = None) -> ExportedAsset:
        """Write, store and finish one claimed export; `copy_to` also keeps the file there (the command line)."""
        with log_context(export_id=asset_id):
            return await self._run(asset_id, copy_to, on_progress)

    async def _run(self, asset_id: int, copy_to: Path | None,
                   on_progress: Callable[[int], None] | None) -> ExportedAsset:
        async with self.database.session() as session:
            asset = await session.get(ExportedAsset, asset_id)
            connection = await session.get(PostHogConnection, asset.connection_id) if asset.connection_id else None
        request = ExportRequest.from_json(asset.request)
        folder = Path(self.settings.export_dir) / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{asset_id}-{uuid.uuid4().hex}.part"
        # The lease is renewed all along, not only per page: a PDF print, a slow fetch or a large upload can
        # outlast it, and a lapsed lease would let another worker start the same export.
        keeping = asyncio.create_task(self._keep_lease(asset_id))
        key = None
        try:
            if connection is None:
                raise ExportError("The PostHog connection of this export was removed.")
            title, written = await self._write(asset_id, connection, request, temporary, on_progress)
            filename = request.filename(title, written.extension)
            key = f"{asset_id}-{uuid.uuid4().hex[:8]}/{filename}"
            await self._still_ours(asset_id, renew=True)
            await self.storage.put(key, temporary, content_type=written.content_type, filename=filename)
            if copy_to is not None:
                copy_to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(temporary, copy_to)  # streamed: a million-row file never sits in memory
            finished = await self._finish(asset_id, status="ready", key=key, filename=filename, written=written)
            if finished is None:  # taken over meanwhile: this copy belongs to no row, so nothing would expire it
                await self.storage.delete(key)
        except NoLongerOurs:
            log.warning("export %s was taken over by another worker; leaving it to them", asset_id)
            return asset
        except (ExportError, PostHogError) as exc:
            finished = await self._finish(asset_id, status="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - recorded on the export, never a crashed worker
            log.exception("export %s failed", asset_id)
            finished = await self._finish(asset_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            keeping.cancel()
            temporary.unlink(missing_ok=True)
        if finished is not None and self.announce is not None:
            try:
                await self.announce(finished)
            except Exception:  # noqa: BLE001 - telling the requester is best effort; the file is there
                log.exception("could not announce export %s", asset_id)
        return finished or asset

    # --- writing -----------------------------------------------------------------------------------------

    async def _write(self, asset_id: int, connection, request: ExportRequest, path: Path, on_progress):
        settings = self.settings
        if request.format == "pdf":
            if self.renderer is None:
                raise ExportError("PDF exports need the renderer, which is not running in this process.")
            content = await fetch(connection, request.kind, request.ref, settings)
            path.write_bytes(await self.renderer.print_pdf(content))
            return content.name, _pdf_written(path)
        if request.is_data:
            table = await self._data_table(asset_id, connection, request, on_progress)
            tables, title = [table], table.title
        else:
            content = await fetch(connection, request.kind, request.ref, settings)
            tables = [insight_table(content)] if request.kind == "insight" else dashboard_tables(content)
            title = content.name
            if not tables:
                raise ExportError(f"Dashboard “{content.name}” has no insight to export.")
        options = {"bom": request.bom} if request.format == "csv" else {}
        written = await WRITERS[request.format](tables, path, max_rows=settings.export_max_rows, **options)
        return title, written

    async def _data_table(self, asset_id: int, connection, request: ExportRequest, on_progress) -> Table:
        query = request.data_query()
        pages = data_pages_for(connection, query, self.settings).__aiter__()
        first = await anext(pages, None)
        columns = list(first.columns) if first is not None else list(query.columns)

        async def rows() -> AsyncIterator[list]:
            done = 0
            page = first
            try:
                while page is not None:
                    for row in page.rows:
                        yield row
                    done += len(page.rows)
                    await self._progress(asset_id, done)
                    if on_progress is not None:
                        on_progress(done)
                    page = await anext(pages, None)
            finally:
                await pages.aclose()  # stopped early (the row cap, a take-over): the connection is closed too

        title = {"events": "Events", "persons": "Persons", "cohort": f"Cohort {request.ref}",
                 "groups": f"Groups of type {request.ref}"}[request.kind]
        stream = rows()
        if request.format == "xlsx":
            # PostHog sends date-times as text; a workbook shows them as dates. CSV keeps PostHog's ISO text.
            dated = [i for i, name in enumerate(columns) if name.split(".")[-1] in DATE_COLUMNS]
            stream = with_dates(stream, dated)
        return Table(title=title, columns=columns, rows=stream)

    # --- bookkeeping -------------------------------------------------------------------------------------

    async def _progress(self, asset_id: int, rows_done: int) -> None:
        """Save the progress and renew the lease; stop when the export is no longer this worker's."""
        async with self.database.transaction() as session:
            asset = await session.get(ExportedAsset, asset_id)
            if asset is None or asset.claimed_by != self.policy.worker_id or asset.status != "running":
                raise NoLongerOurs()
            asset.rows_done = rows_done
            asset.lease_expires_at = self.clock() + self.policy.lease

    async def _keep_lease(self, asset_id: int) -> None:
        while True:
            await asyncio.sleep(max(self.policy.lease.total_seconds() / 3, 0.5))
            try:
                await self._still_ours(asset_id, renew=True)
            except NoLongerOurs:
                return
            except Exception:  # noqa: BLE001 - a database hiccup: the next renewal tries again
                log.warning("could not renew the lease of export %s", asset_id, exc_info=True)

    async def _still_ours(self, asset_id: int, *, renew: bool = False) -> None:
        async with self.database.transaction() as session:
            asset = await session.get(ExportedAsset, asset_id)
            if asset is None or asset.claimed_by != self.policy.worker_id or asset.status != "running":
                raise NoLongerOurs()
            if renew:
                asset.lease_expires_at = self.clock() + self.policy.lease

    async def _finish(self, asset_id: int, *, status: str, key: str | None = None, filename: str | None = None,
                      written=None, error: str | None = None) -> ExportedAsset | None:
        now = self.clock()
        async with self.database.transaction() as session:
            asset = await session.get(ExportedAsset, asset_id)
            if asset is None or asset.claimed_by != self.policy.worker_id or asset.status != "running":
                return None
            asset.status = status
            metrics.EXPORT_JOBS.labels(status).inc()
            asset.finished_at = now
            asset.lease_expires_at = None
            asset.error = error[:2000] if error else None
            # Failed exports expire too, so that housekeeping clears their rows as it does the files.
            asset.expires_at = now + timedelta(hours=self.settings.export_ttl_hours)
            if status == "ready":
                asset.storage_key, asset.filename = key, filename
                asset.size_bytes, asset.row_count, asset.truncated = written.size_bytes, written.rows, written.truncated
                metrics.EXPORT_ROWS.inc(written.rows)
            return asset


def _pdf_written(path: Path):
    from .writers import Written

    return Written(rows=0, truncated=False, size_bytes=path.stat().st_size, content_type="application/pdf",
                   extension="pdf")


def is_quick(request: ExportRequest) -> bool:
    """An insight or a dashboard as CSV or Excel: PostHog computed it already and it takes well under a second
    to write, so the door that asked runs it at once instead of waiting for a worker's next look."""
    return request.kind in ("insight", "dashboard") and request.format in ("csv", "xlsx")


async def run_now(database: Database, settings: Settings, asset_id: int, *, worker_id: str,
                  announce: Announce | None = None) -> ExportedAsset | None:
    """Claim and run one export in this process; None when a worker claimed it first (it announces it then)."""
    policy = ExportPolicy(worker_id=worker_id)
    if not await claim_exports(database, utcnow(), policy, only=[asset_id]):
        return None
    return await ExportRunner(database, settings, make_storage(settings), policy, announce=announce).run(asset_id)


class ExportWorker:
    """The scheduler's export job: claims one export at a time per process (they are heavy) and runs it beside
    the deliveries; `stop()` cancels what runs, whose lease then lapses for another worker."""

    def __init__(self, runner: ExportRunner, *, max_in_flight: int = 1) -> None:
        self.runner = runner
        self.max_in_flight = max_in_flight
        self._running: dict[int, asyncio.Task] = {}
        self._stopping = False

    async def tick(self) -> list[int]:
        if self._stopping:
            return []
        await self._announce_missed()
        if len(self._running) >= self.max_in_flight:
            return []
        try:
            ids = await claim_exports(self.runner.database, self.runner.clock(), self.runner.policy,
                                      limit=self.max_in_flight - len(self._running))
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the loop
            log.exception("claiming exports failed; trying again at the next tick")
            return []
        for asset_id in ids:
            task = asyncio.create_task(self.runner.run(asset_id))
            self._running[asset_id] = task
            task.add_done_callback(lambda _t, asset_id=asset_id: self._running.pop(asset_id, None))
        return ids

    async def _announce_missed(self) -> None:
        """Finished exports whose requester was not told (Slack refused the message): try again, a few at a time.
        The announcer marks `notified_at` once it got through."""
        if self.runner.announce is None:
            return
        since = self.runner.clock() - timedelta(days=1)
        async with self.runner.database.session() as session:
            missed = (await session.scalars(
                select(ExportedAsset).where(
                    ExportedAsset.status.in_(("ready", "failed")), ExportedAsset.notified_at.is_(None),
                    ExportedAsset.requested_by_slack_user.is_not(None), ExportedAsset.finished_at > since,
                    ExportedAsset.finished_at < self.runner.clock() - timedelta(minutes=1),
                ).order_by(ExportedAsset.id).limit(5)
            )).all()
        for asset in missed:
            try:
                await self.runner.announce(asset)
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("could not announce export %s", asset.id)

    async def drain(self) -> None:
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._running.values()):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
