"""The README's API example works as written on `make demo`'s database: its `api-keys create` command line, then its
`curl` line (with the key it printed) against the service, which lists the demo's subscription."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from core.db import Database
from tests.api_support import start_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # the demo renders its dashboard once in Chromium

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## The API"):README.index("## Going to production")]


def test_the_api_section_shows_the_key_command_and_a_curl_line() -> None:
    assert "$ python app.py api-keys create --name demo" in SECTION
    assert re.search(r'\$ curl -H "Authorization: Bearer phe_\.\.\." http://127\.0\.0\.1:8000/api/v1/subscriptions',
                     SECTION)


async def test_the_readme_curl_example_lists_the_demos_subscription(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
           "OUTBOX_DIR": str(tmp_path / "outbox"), "LOG_LEVEL": "WARNING"}

    def run(command: str) -> subprocess.CompletedProcess:
        words = shlex.split(command)
        if words[0] == "python":
            words[0] = sys.executable
        return subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    demo = await asyncio.to_thread(run, "python app.py demo")  # what `make demo` runs
    assert demo.returncode == 0, demo.stdout + demo.stderr

    create = re.search(r"^\$ (python app\.py api-keys create .+)$", SECTION, re.MULTILINE).group(1)
    made = await asyncio.to_thread(run, create)
    assert made.returncode == 0, made.stderr
    [key] = re.findall(r"phe_[\w-]{43}", made.stdout)

    database = Database(env["DATABASE_URL"])
    api = await start_api(database)  # `serve`'s web application, on a free port instead of 8000
    try:
        curl = re.search(r"^\$ (curl .+)$", SECTION, re.MULTILINE).group(1)
        curl = curl.replace("phe_...", key).replace("http://127.0.0.1:8000", api.base)
        answer = await asyncio.to_thread(run, curl + " --silent --show-error --fail")
        assert answer.returncode == 0, answer.stderr
        body = json.loads(answer.stdout)
        [subscription] = body["items"]
        assert (subscription["content_type"], subscription["content_ref"]) == ("dashboard", "42")
        assert subscription["email_recipients"] == ["team@example.com"] and body["next_cursor"] is None
    finally:
        await api.close()
        await database.dispose()
