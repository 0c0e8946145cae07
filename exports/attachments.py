"""A report's data as a file: what a subscription "with csv" (or xlsx, pdf) sends beside its images."""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.delivery import Attachment
from core.settings import Settings
from posthog_api.content import Dashboard, Insight

from .requests import ExportRequest
from .tables import dashboard_tables, insight_table
from .writers import WRITERS


async def attachment(content: Insight | Dashboard, fmt: str, settings: Settings, *, renderer=None) -> Attachment:
    """The content as a CSV (a zip of CSVs for a dashboard), a workbook or a PDF (which needs the renderer)."""
    kind = "insight" if isinstance(content, Insight) else "dashboard"
    request = ExportRequest(kind=kind, ref=str(getattr(content, "short_id", "") or content.id), format=fmt)
    if fmt == "pdf":
        if renderer is None:
            raise ValueError("a PDF attachment needs the renderer")
        data = await renderer.print_pdf(content)
        return Attachment(request.filename(content.name, "pdf"), data, "application/pdf")
    tables = [insight_table(content)] if kind == "insight" else dashboard_tables(content)
    with tempfile.TemporaryDirectory(prefix="posthog-exports-attachment-") as folder:
        path = Path(folder) / f"attachment.{fmt}"
        written = await WRITERS[fmt](tables, path, max_rows=settings.export_max_rows)
        return Attachment(request.filename(content.name, written.extension), path.read_bytes(), written.content_type)
