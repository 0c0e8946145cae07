"""`python app.py doctor` on real components (a migrated SQLite file, Chromium, fc-list, an SMTP server with
authentication, the Slack stand-in), and the systemd units and example settings in deploy/."""

from __future__ import annotations

import asyncio
import configparser
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from tests.standins.slack_api import SlackStandIn
from tests.standins.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MARKS = ("✓ ", "✗ ", "! ")
SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"POSTHOG_EXPORTS_VAR_DIR"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(workdir: Path, database_url: str, **overrides: str) -> dict[str, str]:
    """The embedded defaults: no setting inherited from the test run, the service's files in `workdir`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "TEST_DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url,
        POSTHOG_EXPORTS_VAR_DIR=str(workdir / "var"),
        OUTBOX_DIR=str(workdir / "outbox"),
        PUBLIC_URL=f"http://127.0.0.1:{_closed_port()}",  # nothing listens: `serve` is not running
    )
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def fresh_database(tmp_path_factory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("doctor")
    url = f"sqlite+aiosqlite:///{workdir / 'doctor.db'}"
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "db", "upgrade", "--url", url], cwd=workdir,
        env=_env(workdir, url), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, url


def doctor(workdir: Path, env: dict[str, str]) -> tuple[int, list[str], str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "doctor"], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKS)]
    return result.returncode, lines, result.stdout + result.stderr


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗ ")]


def test_doctor_passes_on_the_embedded_defaults(fresh_database) -> None:
    workdir, url = fresh_database
    code, lines, output = doctor(workdir, _env(workdir, url))
    assert code == 0, output
    names = {line[2:].split(":", 1)[0] for line in lines}
    assert {"settings", "secret key", "database", "migrations", "chromium", "chromedriver", "fonts", "slack",
            "email", "export storage", "posthog demo project", "public url"} <= names, output
    assert all(line.startswith("✓ ") or line.startswith("! public url:") for line in lines), output
    assert "! public url: nothing answers at" in output
    assert "✓ migrations: at head" in output
    assert f"✓ email: outbox folder {workdir / 'outbox'} writable" in output


def test_a_database_behind_the_code_names_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    code, lines, output = doctor(tmp_path, _env(tmp_path, url))
    assert code == 1
    assert any(line.startswith("✗ migrations:") and "fix: run `python app.py db upgrade`" in line for line in lines)
    # the checks that need the tables say why they did not run; the others still ran
    assert any(line.startswith("✗ posthog:") and "database" in line for line in lines), output
    assert any(line.startswith("✓ fonts:") for line in lines), output


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://exports:hunter2@127.0.0.1:{_closed_port()}/exports"
    code, lines, output = doctor(tmp_path, _env(tmp_path, url, SECRET_KEY="a-secret-key-value"))
    assert code == 1
    [database] = [line for line in lines if line.startswith("✗ database:")]
    assert "postgresql+asyncpg://exports:***@127.0.0.1" in database and "fix: check DATABASE_URL" in database
    assert "hunter2" not in output and "a-secret-key-value" not in output
    assert "✓ posthog demo project: answers" in output  # the configured connection needs no database


def test_a_wrong_smtp_password_fails_and_names_the_fix(fresh_database) -> None:
    workdir, url = fresh_database
    server = SmtpServer(username="reports", password="the-right-password").start()
    try:
        smtp = dict(EMAIL_TRANSPORT="smtp", SMTP_HOST=server.host, SMTP_PORT=str(server.port), SMTP_SECURITY="none",
                    SMTP_USERNAME="reports", SMTP_TIMEOUT_SECONDS="5")
        code, lines, output = doctor(workdir, _env(workdir, url, **smtp, SMTP_PASSWORD="a-wrong-password"))
        assert code == 1, output
        [email] = [line for line in lines if line.startswith("✗ email:")]
        assert f"127.0.0.1:{server.port}" in email
        assert "fix: check SMTP_USERNAME and SMTP_PASSWORD" in email
        assert "a-wrong-password" not in output  # no secret is printed
        assert failures(lines) == [email], output  # the other checks ran and passed

        code, lines, output = doctor(workdir, _env(workdir, url, **smtp, SMTP_PASSWORD="the-right-password"))
        assert code == 0, output
        assert any(line.startswith("✓ email: SMTP server") and "logged in as 'reports'" in line for line in lines)
        assert server.authenticator.logins == [b"reports"]
        assert "the-right-password" not in output
    finally:
        server.stop()


def test_missing_cjk_and_emoji_fonts_fail_with_the_apt_get_fix(fresh_database, tmp_path: Path) -> None:
    workdir, url = fresh_database
    empty = tmp_path / "fonts.conf"  # a fontconfig that knows no font directory: fc-list lists nothing
    empty.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig></fontconfig>\n')
    code, lines, output = doctor(workdir, _env(workdir, url, FONTCONFIG_FILE=str(empty)))
    assert code == 1, output
    [fonts] = failures(lines)
    assert fonts.startswith("✗ fonts: Noto Sans CJK and Noto Color Emoji missing")
    assert fonts.endswith("fix: `apt-get install fonts-noto-cjk fonts-noto-color-emoji`")


async def test_slack_checks_each_installations_bot_token(database_url: str, db, tmp_path: Path) -> None:
    from slack_sdk.oauth.installation_store import Installation

    from bot import DatabaseInstallationStore

    slack = await SlackStandIn().start()
    try:
        slack.add_token("xoxb-valid-token", team_id="T1")
        store = DatabaseInstallationStore(db)
        await store.async_save(Installation(team_id="T1", team_name="Acme", user_id="U1",
                                            bot_token="xoxb-valid-token", bot_id="B1", bot_user_id="UB1"))
        await store.async_save(Installation(team_id="T2", team_name="Globex", user_id="U2",
                                            bot_token="xoxb-revoked-token", bot_id="B2", bot_user_id="UB2"))
        env = _env(tmp_path, database_url, SECRET_KEY=os.environ["SECRET_KEY"], SLACK_SIGNING_SECRET="signing",
                   SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="client-secret", SLACK_API_URL=slack.api_url)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "app.py"), "doctor", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 120)
        output = out.decode()
    finally:
        await slack.close()
    assert process.returncode == 1, output
    assert "✓ slack Acme (T1): bot token valid" in output
    [revoked] = [line for line in output.splitlines() if line.startswith("✗ slack Globex (T2)")]
    assert "invalid_auth" in revoked and "fix: reinstall the app from" in revoked
    assert "xoxb-" not in output and "signing" not in output.replace("SLACK_SIGNING_SECRET", "")
    assert sorted(call.token for call in slack.calls_to("auth.test")) == ["xoxb-revoked-token", "xoxb-valid-token"]


# --- deploy/ -----------------------------------------------------------------------------------------------


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def _env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        line = line.strip().removeprefix("# ")  # commented-out alternatives must name real settings too
        name, sep, value = line.partition("=")
        if sep and name.isupper() and name.replace("_", "").isalnum():
            values.setdefault(name, value)
    return values


UNITS = sorted(DEPLOY.glob("*.service"))


def test_there_is_a_serve_unit_and_a_worker_template() -> None:
    assert [u.name for u in UNITS] == ["posthog-exports-serve.service", "posthog-exports-worker@.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_unit_parses_and_has_the_required_keys(unit: Path) -> None:
    parsed = _unit(unit)
    assert set(parsed.sections()) == {"Unit", "Service", "Install"}
    service = parsed["Service"]
    assert parsed["Unit"]["Description"]
    assert service["EnvironmentFile"] == "/etc/posthog-exports/env"
    command = "serve" if "serve" in unit.name else "worker"
    python, app, verb = service["ExecStart"].split()
    assert python.endswith("/.venv/bin/python") and app.endswith("/app.py") and verb == command
    assert Path(app).parent == Path(service["WorkingDirectory"])
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "mixed"
    assert float(service["TimeoutStopSec"]) > Settings.model_fields["shutdown_timeout_seconds"].default
    assert float(service["TimeoutStopSec"]) > float(_env_example()["SHUTDOWN_TIMEOUT_SECONDS"])
    assert service["User"] and service["User"] != "root"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert _env_example()["VAR_DIR"] in service["ReadWritePaths"].split()
    assert parsed["Install"]["WantedBy"] == "multi-user.target"


def test_env_example_names_only_real_settings() -> None:
    names = set(_env_example())
    assert names - SETTING_NAMES == set()
    for production in ("DATABASE_URL", "SECRET_KEY", "PUBLIC_URL", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
                       "SLACK_CLIENT_SECRET", "EMAIL_TRANSPORT", "SMTP_HOST", "SMTP_PASSWORD", "SES_REGION",
                       "EXPORT_STORAGE", "S3_BUCKET", "SELENIUM_GRID_URL", "VAR_DIR"):
        assert production in names
    assert _env_example()["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert _env_example()["EXPORT_STORAGE"] == "s3"
