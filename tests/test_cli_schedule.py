"""`python app.py schedule` previews schedules the way users will receive them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_weekly_in_london_keeps_nine_local_across_the_clock_change() -> None:
    result = _app(
        "schedule", "weekly on monday at 9:00", "--tz", "Europe/London", "--from", "2026-03-20", "--count", "3"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "every Monday at 09:00 (Europe/London)"
    assert lines[1:] == [
        "  Mon 2026-03-23 09:00 GMT  =  2026-03-23 09:00 UTC",
        "  Mon 2026-03-30 09:00 BST  =  2026-03-30 08:00 UTC",
        "  Mon 2026-04-06 09:00 BST  =  2026-04-06 08:00 UTC",
    ]


def test_a_bad_phrase_gets_a_specific_message_and_exit_code_2() -> None:
    result = _app("schedule", "fortnightly", "--tz", "Europe/London")
    assert result.returncode == 2
    assert 'fortnightly' in result.stdout and "every 2 weeks" in result.stdout
    assert "Traceback" not in result.stderr


def test_an_unknown_zone_is_explained() -> None:
    result = _app("schedule", "daily", "--tz", "Europe/Londn")
    assert result.returncode == 2
    assert "Europe/London" in result.stdout  # suggested
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = _app("--help")
    assert result.returncode == 0
    for command in ("serve", "worker", "demo", "render", "deliver", "deliveries", "schedule", "db"):
        assert command in result.stdout
