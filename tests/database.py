"""Kept for the test modules that still import `empty_tables` from here; it lives in `core.db` now."""

from __future__ import annotations

from core.db import empty_tables

__all__ = ["empty_tables"]
