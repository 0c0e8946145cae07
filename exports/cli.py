"""`export` and `exports`: make an export from the command line, and see recent ones.

    export insight abc123XY --format csv -o signups.csv
    export dashboard 42 --format xlsx -o overview.xlsx        (one sheet per tile, and an index)
    export dashboard 42 --format pdf -o overview.pdf
    export events --last 7d --events '$pageview,signed_up' --columns timestamp,event,distinct_id -o events.csv
    export events --last 30d --where "properties.$browser = 'Chrome'" --format xlsx -o chrome.xlsx
    export persons -o persons.csv          export cohort 5 -o cohort.csv          export groups 0 -o groups.csv

The export runs in this process with a progress line, through the same jobs as Slack's exports (it is listed by
`exports`), on the operator's PostHog connection (POSTHOG_HOST...; the demo project when unset).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.models import ExportedAsset
from core.settings import Settings, get_settings
from posthog_api import PostHogError, operator_connection

from .jobs import ExportPolicy, ExportRunner, start_export
from .requests import FORMATS, KINDS, ExportError, ExportRequest, date_range
from .storage import make_storage


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="export an insight, a dashboard, events, persons, a cohort or "
                                   "groups to CSV, XLSX or PDF", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("kind", choices=KINDS)
    export.add_argument("ref", nargs="?", default="", help="insight id or short id, dashboard id, cohort id, group "
                        "type index")
    export.add_argument("--format", choices=FORMATS, default=None, help="csv, xlsx or pdf (default: from -o)")
    export.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    export.add_argument("--last", default=None, metavar="RANGE", help='events: "7d", "last 30 days", "this month"')
    export.add_argument("--events", default="", help="events: comma-separated event names")
    export.add_argument("--columns", default="", help="comma-separated columns, e.g. timestamp,event,distinct_id")
    export.add_argument("--where", default=None, help="a HogQL filter, e.g. \"properties.$browser = 'Chrome'\"")
    export.add_argument("--bom", action="store_true", help="CSV: start with a byte-order mark (for Excel)")
    export.set_defaults(func=lambda args: asyncio.run(run_export_command(args)))

    recent = subparsers.add_parser("exports", help="recent exports: status, rows, size, expiry")
    recent.add_argument("--limit", type=int, default=20)
    recent.set_defaults(func=lambda args: asyncio.run(list_exports(args.limit)))


def request_from(args: argparse.Namespace) -> ExportRequest:
    fmt = args.format or (args.output.suffix.lstrip(".").lower() or "csv")
    span = date_range(args.last)
    return ExportRequest(
        kind=args.kind, ref=str(args.ref or ""), format=fmt,
        date_from=span.date_from if span else None, date_to=span.date_to if span else None,
        events=tuple(e.strip() for e in args.events.split(",") if e.strip()),
        columns=tuple(c.strip() for c in args.columns.split(",") if c.strip()),
        where=args.where, bom=args.bom,
    ).validate()


async def run_export_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    try:
        request = request_from(args)
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    progress = Progress(sys.stderr)
    try:
        policy = ExportPolicy(worker_id=f"cli:{os.getpid()}")
        async with database.transaction() as session:
            asset = await start_export(session, request, connection=await operator_connection(session, settings),
                                       claim_for=policy)
        async with _renderer(settings, request.format == "pdf") as renderer:
            runner = ExportRunner(database, settings, make_storage(settings), policy, renderer=renderer)
            done = await runner.run(asset.id, copy_to=args.output, on_progress=progress.update)
    except (ExportError, PostHogError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    finally:
        await database.dispose()
    progress.close()
    if done.status != "ready":
        print(f"export: {done.error or 'the export failed'}", file=sys.stderr)
        return 1
    rows = f"{done.row_count:,} rows" if done.row_count else "written"
    note = " (stopped at EXPORT_MAX_ROWS: the source has more)" if done.truncated else ""
    print(f"{args.output}: {rows}, {done.size_bytes:,} bytes{note}")
    return 0


class Progress:
    """Rows written and the rate: redrawn in place on a terminal, a line per 100,000 rows otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_line = 0
        self.shown = False

    def update(self, rows: int) -> None:
        rate = rows / max(time.monotonic() - self.started, 1e-6)
        text = f"{rows:,} rows, {rate:,.0f} rows/s"
        if self.tty:
            self.stream.write(f"\r{text}   ")
            self.stream.flush()
            self.shown = True
        elif rows - self.last_line >= 100_000:
            self.last_line = rows
            print(text, file=self.stream)

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


class _renderer:
    """A browser for PDFs only: CSV and XLSX exports start none."""

    def __init__(self, settings: Settings, needed: bool) -> None:
        self.settings, self.needed, self.renderer = settings, needed, None

    async def __aenter__(self):
        if self.needed:
            from render import Renderer

            self.renderer = Renderer(self.settings, pool_size=1)
            await self.renderer.start()
        return self.renderer

    async def __aexit__(self, *_exc) -> None:
        if self.renderer is not None:
            await self.renderer.close()


async def list_exports(limit: int) -> int:
    database = Database(get_settings().database_url)
    try:
        async with database.session() as session:
            rows = (await session.scalars(
                select(ExportedAsset).order_by(ExportedAsset.id.desc()).limit(limit)
            )).all()
    finally:
        await database.dispose()
    if not rows:
        print("No exports yet. Make one with `export dashboard 42 -o overview.xlsx`.")
        return 0
    for a in rows:
        what = f"{a.content_type} {a.content_ref}".strip()
        state = {"ready": f"ready, {a.row_count or 0:,} rows, {a.size_bytes or 0:,} bytes, expires "
                          f"{a.expires_at:%Y-%m-%d %H:%M} UTC" if a.expires_at else "ready",
                 "running": f"running, {a.rows_done:,} rows so far",
                 "failed": f"failed: {a.error}"}.get(a.status, a.status)
        print(f"#{a.id:<5} {a.created_at:%Y-%m-%d %H:%M} UTC  {what} as {a.format}  {state}")
    return 0
