"""Exports: PostHog content and raw data as CSV and Excel files (and PDF), made by jobs that any worker runs.

The surface other folders use is named here; everything else in `exports/` is its own business.
"""

from .announce import ExportAnnouncer, download_link
from .attachments import attachment
from .expiry import delete_expired
from .jobs import ExportPolicy, ExportRunner, ExportWorker, claim_exports, is_quick, run_now, start_export
from .links import download_token, download_url, read_download_token
from .requests import ExportError, ExportRequest
from .requests import date_range as export_date_range
from .routes import add_routes
from .storage import LocalStorage, S3Storage, Storage, StorageKeyError, make_storage
from .tables import Table, dashboard_tables, insight_table, iterate, parse_iso, with_dates
from .writers import WRITERS, Written, neutralize, write_csv, write_xlsx

__all__ = [
    "WRITERS",
    "ExportAnnouncer",
    "ExportError",
    "ExportPolicy",
    "ExportRequest",
    "ExportRunner",
    "ExportWorker",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageKeyError",
    "add_routes",
    "attachment",
    "claim_exports",
    "delete_expired",
    "download_link",
    "download_token",
    "download_url",
    "export_date_range",
    "is_quick",
    "make_storage",
    "read_download_token",
    "run_now",
    "start_export",
    "Table",
    "Written",
    "dashboard_tables",
    "insight_table",
    "iterate",
    "neutralize",
    "parse_iso",
    "with_dates",
    "write_csv",
    "write_xlsx",
]
