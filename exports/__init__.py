"""Exports: PostHog content and raw data as CSV and Excel files (and PDF), made by jobs that any worker runs.

The surface other folders use is named here; everything else in `exports/` is its own business.
"""

from .tables import Table, dashboard_tables, insight_table, iterate, parse_iso, with_dates
from .writers import WRITERS, Written, neutralize, write_csv, write_xlsx

__all__ = [
    "WRITERS",
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
