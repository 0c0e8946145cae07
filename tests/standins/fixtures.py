"""pytest fixtures for the stand-ins. Import them into a test module (or conftest) by name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins.posthog_server import PostHogStandIn

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "posthog" / "insights"


def load_fixture(name: str) -> dict[str, Any]:
    """A PostHog insight payload from tests/fixtures/posthog/insights (e.g. "trendsLine")."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
async def posthog_server() -> AsyncIterator[PostHogStandIn]:
    server = PostHogStandIn()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
