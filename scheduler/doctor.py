"""`python app.py doctor`: checks that this machine and its settings can do the job, and says how to fix what fails.

Every check runs with its own time-out; one failing (or hanging) check never stops the others. Each prints one
line per thing checked:

    ✓ name: detail
    ✗ name: problem — fix: what to do
    ! name: a warning that does not fail the run

The command exits 1 when any check failed. No secret (key, token, password) is ever printed: database URLs are
shown without their password and stored connections by host and project only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import secrets
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from core.db import Database

CHECK_SECONDS = 10.0  # the budget of one check
COMMAND_SECONDS = 8.0  # a `--version` or `fc-list` run
NETWORK_SECONDS = 5.0  # one network call
PUBLIC_URL_SECONDS = 3.0

FONT_PACKAGES = "fonts-noto-cjk fonts-noto-color-emoji"
REQUIRED_FONTS = {"Noto Sans CJK": "fonts-noto-cjk", "Noto Color Emoji": "fonts-noto-color-emoji"}


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: str  # "ok" | "fail" | "warn"
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.status == "ok":
            return f"✓ {self.name}: {self.detail}"
        if self.status == "warn":
            return f"! {self.name}: {self.detail}"
        return f"✗ {self.name}: {self.detail}" + (f" — fix: {self.fix}" if self.fix else "")


def ok(name: str, detail: str) -> Result:
    return Result(name, "ok", detail)


def fail(name: str, problem: str, fix: str) -> Result:
    return Result(name, "fail", problem, fix)


def warn(name: str, detail: str) -> Result:
    return Result(name, "warn", detail)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:limit]


def safe_url(url: str) -> str:
    """A database URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as its scheme only
        return url.split("://", 1)[0] + "://..."


# --- settings ----------------------------------------------------------------------------------------------


def load_settings() -> tuple[Settings | None, list[Result]]:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        # Only the names and the reasons: an input value could be a secret.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        return None, [fail("settings", problems, "correct these variables in the environment or .env")]
    except Exception as exc:  # noqa: BLE001 - e.g. an unreadable .env
        return None, [fail("settings", _short(exc), "check the environment and the .env file")]
    return settings, [ok("settings", f"loaded (database {safe_url(settings.database_url)}, "
                                     f"email {settings.email_transport}, exports {settings.export_storage})"),
                      check_secret_key(settings)]


def check_secret_key(settings: Settings) -> Result:
    keys = [k for k in settings.secret_key.split(",") if k.strip()]
    if keys:
        return ok("secret key", f"SECRET_KEY set ({len(keys)} key{'s' if len(keys) > 1 else ''})")
    path = settings.generated_key_file
    shared = settings.database_url.startswith("postgresql")
    if path.exists():
        try:
            present = bool(path.read_text().strip())
        except OSError as exc:
            return fail("secret key", f"{path} cannot be read: {_short(exc)}",
                        "let the service's user read it, or set SECRET_KEY")
        if not present:
            return fail("secret key", f"{path} is empty", "delete it to generate a new key, or set SECRET_KEY")
        if shared:
            return fail("secret key", f"SECRET_KEY is empty and the key lives in {path} on this machine only, "
                        "while the database is shared", f"set SECRET_KEY to the content of {path} in every process")
        return ok("secret key", f"generated key in {path}")
    if shared:
        return fail("secret key", "SECRET_KEY is empty and the database is PostgreSQL (shared by processes)",
                    "set SECRET_KEY, e.g. to the output of "
                    '`python -c "import secrets; print(secrets.token_urlsafe(48))"`')
    if _writable(settings.var_dir):
        return ok("secret key", f"SECRET_KEY empty: a key will be generated into {path} on first use")
    return fail("secret key", f"SECRET_KEY is empty and {settings.var_dir} is not writable to generate one",
                "set SECRET_KEY, or make VAR_DIR writable")


def _writable(directory: Path) -> bool:
    """Whether files can be written in `directory` (created when missing, as the service would)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".doctor-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


# --- database ----------------------------------------------------------------------------------------------


async def check_database(settings: Settings) -> list[Result]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.db import create_engine
    from core.migrations import alembic_config

    url = settings.database_url
    shown = safe_url(url)
    try:
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    except Exception as exc:  # noqa: BLE001
        return [fail("database", f"the migrations cannot be read: {_short(exc)}", "reinstall the application")]
    engine = create_engine(url)
    try:
        async with asyncio.timeout(NETWORK_SECONDS):
            async with engine.connect() as connection:
                current = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    except TimeoutError:
        return [fail("database", f"{shown} did not answer within {NETWORK_SECONDS:g} s",
                     "check that the database server runs and DATABASE_URL points at it")]
    except Exception as exc:  # noqa: BLE001 - any driver error: unreachable, refused, bad credentials
        return [fail("database", f"{shown} cannot be reached: {_short(exc)}",
                     "check DATABASE_URL (host, port, user, password) and that the server runs")]
    finally:
        await engine.dispose()
    reachable = ok("database", f"{shown} reachable")
    if current != head:
        return [reachable, fail("migrations", f"the database is at revision {current or 'none'}, the code needs "
                                f"{head}", "run `python app.py db upgrade`")]
    return [reachable, ok("migrations", f"at head ({head})")]


# --- browser -----------------------------------------------------------------------------------------------


async def run_command(*argv: str, timeout: float = COMMAND_SECONDS) -> tuple[int, str]:
    """(exit status, stdout) of a command, killed after `timeout`."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace")


def _major(version_text: str) -> int | None:
    found = re.search(r"(\d+)\.\d+\.\d+", version_text)
    return int(found.group(1)) if found else None


async def _version(name: str, path: str, setting: str, package: str) -> tuple[Result, int | None]:
    if not Path(path).exists() and shutil.which(path) is None:
        return fail(name, f"{path} not found", f"`apt-get install {package}`, or set {setting} to its path"), None
    try:
        status, out = await run_command(path, "--version")
    except TimeoutError:
        return fail(name, f"`{path} --version` did not answer within {COMMAND_SECONDS:g} s",
                    f"check the installation of {package}"), None
    except OSError as exc:
        return fail(name, f"{path} cannot run: {_short(exc)}", f"`apt-get install {package}`, or fix {setting}"), None
    text = out.strip().splitlines()[0] if out.strip() else ""
    if status != 0 or not text:
        return fail(name, f"`{path} --version` failed (exit {status})", f"reinstall {package}"), None
    return ok(name, text), _major(text)


async def check_browser(settings: Settings) -> list[Result]:
    if settings.selenium_grid_url:
        return [await check_grid(settings.selenium_grid_url)]
    (chromium, chromium_major), (driver, driver_major) = await asyncio.gather(
        _version("chromium", settings.chromium_path, "CHROMIUM_PATH", "chromium"),
        _version("chromedriver", settings.chromedriver_path, "CHROMEDRIVER_PATH", "chromium-driver"),
    )
    results = [chromium, driver]
    if chromium_major and driver_major and chromium_major != driver_major:
        results.append(fail("browser versions", f"Chromium {chromium_major} and ChromeDriver {driver_major} differ",
                            "install matching versions (`apt-get install chromium chromium-driver`)"))
    return results


async def check_grid(grid_url: str) -> Result:
    import aiohttp

    base = grid_url.rstrip("/")
    base = base[: -len("/wd/hub")] if base.endswith("/wd/hub") else base
    status_url = f"{base}/status"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=NETWORK_SECONDS)) as session:
            async with session.get(status_url) as response:
                body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return fail("selenium grid", f"{status_url} does not answer: {_short(exc) or 'time-out'}",
                    "start the Grid, or correct SELENIUM_GRID_URL")
    value = body.get("value", {}) if isinstance(body, dict) else {}
    message = str(value.get("message", "")).strip()[:120]
    if value.get("ready"):
        return ok("selenium grid", f"{base} ready" + (f" ({message})" if message else ""))
    return fail("selenium grid", f"{base} is not ready" + (f": {message}" if message else ""),
                "add a Chromium node to the Grid, or wait for its nodes to register")


# --- fonts -------------------------------------------------------------------------------------------------


async def check_fonts() -> list[Result]:
    fix = f"`apt-get install {FONT_PACKAGES}`"
    if shutil.which("fc-list") is None:
        return [fail("fonts", "fc-list not found (fontconfig is missing)",
                     f"`apt-get install fontconfig {FONT_PACKAGES}`")]
    try:
        status, out = await run_command("fc-list", ":", "family")
    except TimeoutError:
        return [fail("fonts", f"fc-list did not answer within {COMMAND_SECONDS:g} s", fix)]
    if status != 0:
        return [fail("fonts", f"fc-list failed (exit {status})", "check fontconfig (FONTCONFIG_FILE)")]
    missing = [family for family in REQUIRED_FONTS if family not in out]
    if missing:
        return [fail("fonts", f"{' and '.join(missing)} missing: Chinese, Japanese, Korean labels and emoji would "
                     "render as empty boxes", fix)]
    return [ok("fonts", "Noto Sans CJK and Noto Color Emoji present")]


# --- Slack -------------------------------------------------------------------------------------------------


async def check_slack(settings: Settings, database: Database | None) -> list[Result]:
    if not settings.slack_signing_secret:
        return [ok("slack", "not configured (SLACK_SIGNING_SECRET empty; the Slack routes answer 503)")]
    from slack_sdk.errors import SlackApiError
    from sqlalchemy import select

    from bot.slack_client import slack_error_code, web_client
    from core.models import SlackInstallation, SlackWorkspace

    results: list[Result] = []
    if database is None:
        return [fail("slack", "installations not checked: the database is not ready", "fix the database first")]
    if not (settings.slack_client_id and settings.slack_client_secret):
        results.append(fail("slack", "SLACK_SIGNING_SECRET is set but SLACK_CLIENT_ID or SLACK_CLIENT_SECRET is "
                            "empty: workspaces cannot install the app",
                            "set both from the Slack app's Basic Information page"))
    async with database.session() as session:
        rows = (await session.execute(
            select(SlackWorkspace.team_id, SlackWorkspace.name, SlackInstallation.id)
            .join(SlackInstallation, SlackInstallation.workspace_id == SlackWorkspace.id)
            .where(SlackWorkspace.active.is_(True), SlackInstallation.bot_token.is_not(None))
            .order_by(SlackWorkspace.team_id, SlackInstallation.installed_at.desc())
        )).all()
    newest: dict[str, tuple[str, int]] = {}
    for team_id, name, installation_id in rows:
        newest.setdefault(team_id, (name, installation_id))  # the newest installation of each workspace
    if not newest:
        results.append(ok("slack", f"configured; no workspace has installed the app yet "
                                   f"({settings.public_url.rstrip('/')}/slack/install)"))
        return results

    async def one(team_id: str, name: str, installation_id: int) -> Result:
        label = f"slack {name or team_id} ({team_id})"
        reinstall = f"reinstall the app from {settings.public_url.rstrip('/')}/slack/install"
        try:
            async with database.session() as session:
                token = (await session.get(SlackInstallation, installation_id)).bot_token
        except Exception as exc:  # noqa: BLE001 - most often a SECRET_KEY that cannot decrypt the token
            return fail(label, f"the stored bot token cannot be read: {_short(exc)}",
                        "set SECRET_KEY to the key the token was saved with")
        try:
            answer = await asyncio.wait_for(
                web_client(settings, token, retry_connection_errors=False).auth_test(), NETWORK_SECONDS
            )
        except TimeoutError:
            return fail(label, f"Slack did not answer auth.test within {NETWORK_SECONDS:g} s",
                        "check outbound HTTPS to slack.com (SLACK_API_URL)")
        except SlackApiError as exc:
            code = slack_error_code(exc)
            if code in ("invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"):
                return fail(label, f"the bot token is refused ({code})", reinstall)
            return fail(label, f"auth.test failed ({code})", "check Slack's status and SLACK_API_URL")
        except Exception as exc:  # noqa: BLE001 - network errors
            return fail(label, f"Slack cannot be reached: {_short(exc)}",
                        "check outbound HTTPS to slack.com (SLACK_API_URL)")
        bot = answer.get("user") or answer.get("user_id") or "the bot"
        return ok(label, f"bot token valid (@{bot} in {answer.get('team') or team_id})")

    results.extend(await asyncio.gather(*(one(t, n, i) for t, (n, i) in newest.items())))
    return results


# --- email -------------------------------------------------------------------------------------------------


async def check_email(settings: Settings) -> list[Result]:
    if settings.email_transport == "smtp":
        return [await check_smtp(settings)]
    if settings.email_transport == "ses":
        return [await asyncio.to_thread(check_ses, settings)]
    directory = Path(settings.outbox_dir)
    if await asyncio.to_thread(_writable, directory):
        return [ok("email", f"outbox folder {directory} writable")]
    return [fail("email", f"outbox folder {directory} is not writable",
                 "create it for the service's user, or set OUTBOX_DIR (or EMAIL_TRANSPORT=smtp|ses)")]


async def check_smtp(settings: Settings) -> Result:
    import aiosmtplib

    port = settings.smtp_port or {"tls": 465, "starttls": 587}.get(settings.smtp_security, 25)
    where = f"{settings.smtp_host}:{port} ({settings.smtp_security})"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=port, use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls", timeout=min(settings.smtp_timeout_seconds, NETWORK_SECONDS),
    )
    try:
        await client.connect()  # greeting, EHLO, and STARTTLS with `starttls`
        await client.ehlo()
        if settings.smtp_username:
            await client.login(settings.smtp_username, settings.smtp_password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return fail("email", f"SMTP server {where} refused the login of {settings.smtp_username!r}: {exc.code}",
                    "check SMTP_USERNAME and SMTP_PASSWORD")
    except aiosmtplib.SMTPException as exc:
        text = _short(exc)
        if "auth" in text.lower():
            return fail("email", f"SMTP server {where}: {text}",
                        "check SMTP_SECURITY (most servers offer AUTH only after STARTTLS) and SMTP_USERNAME")
        return fail("email", f"SMTP server {where}: {text}", "check SMTP_HOST, SMTP_PORT and SMTP_SECURITY")
    except (OSError, TimeoutError) as exc:
        return fail("email", f"SMTP server {where} cannot be reached: {_short(exc) or 'time-out'}",
                    "check SMTP_HOST, SMTP_PORT and SMTP_SECURITY, and that outbound SMTP is allowed")
    finally:
        if client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), NETWORK_SECONDS)
            except Exception:  # noqa: BLE001 - the check is done either way
                client.close()
    login = f", logged in as {settings.smtp_username!r}" if settings.smtp_username else ", no login"
    return ok("email", f"SMTP server {where} answers EHLO{login}")


def _boto_config():
    from botocore.config import Config

    return Config(connect_timeout=NETWORK_SECONDS, read_timeout=NETWORK_SECONDS,
                  retries={"mode": "standard", "max_attempts": 1})


def check_ses(settings: Settings) -> Result:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from mail.transports import envelope_sender

    try:
        ses = boto3.client("sesv2", region_name=settings.ses_region, config=_boto_config())
        account = ses.get_account()
    except NoCredentialsError:
        return fail("email", "Amazon SES: no AWS credentials found",
                    "give the service AWS credentials (an instance role, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return fail("email", f"Amazon SES ({settings.ses_region}) refused GetAccount: {code}",
                    "allow ses:GetAccount and ses:SendRawEmail to the service's AWS identity, and check SES_REGION")
    except BotoCoreError as exc:
        return fail("email", f"Amazon SES ({settings.ses_region}) cannot be reached: {_short(exc)}",
                    "check SES_REGION and outbound HTTPS")
    if not account.get("SendingEnabled", True):
        return fail("email", f"Amazon SES sending is paused for this account in {settings.ses_region}",
                    "resolve the pause in the SES console")
    sender = envelope_sender(settings)
    verified = None
    for identity in (sender, sender.rpartition("@")[2]):
        try:
            found = ses.get_email_identity(EmailIdentity=identity)
        except ClientError:
            continue
        except BotoCoreError as exc:
            return fail("email", f"Amazon SES identity check failed: {_short(exc)}", "check outbound HTTPS")
        if found.get("VerifiedForSendingStatus"):
            verified = identity
            break
    if verified is None:
        return fail("email", f"Amazon SES ({settings.ses_region}): {sender} is not a verified identity",
                    "verify the address or its domain in SES, or change EMAIL_FROM")
    sandbox = "" if account.get("ProductionAccessEnabled") else "; sandbox: only verified recipients receive mail"
    return ok("email", f"Amazon SES ({settings.ses_region}) sends as {verified}{sandbox}")


# --- exports storage ---------------------------------------------------------------------------------------


async def check_export_storage(settings: Settings) -> list[Result]:
    if settings.export_storage == "local":
        directory = Path(settings.export_dir)
        if await asyncio.to_thread(_writable, directory):
            return [ok("export storage", f"folder {directory} writable")]
        return [fail("export storage", f"folder {directory} is not writable",
                     "create it for the service's user, or set EXPORT_DIR (or EXPORT_STORAGE=s3)")]
    return [await asyncio.to_thread(check_s3, settings)]


def check_s3(settings: Settings) -> Result:
    if not settings.s3_bucket:
        return fail("export storage", "EXPORT_STORAGE=s3 but S3_BUCKET is empty", "set S3_BUCKET")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    where = f"s3://{settings.s3_bucket}" + (f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else "")
    try:
        s3 = boto3.client("s3", region_name=settings.s3_region or None,
                          endpoint_url=settings.s3_endpoint_url or None, config=_boto_config())
        s3.head_bucket(Bucket=settings.s3_bucket)
    except NoCredentialsError:
        return fail("export storage", f"{where}: no AWS credentials found", "give the service AWS credentials")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return fail("export storage", f"{where}: {code or 'refused'}",
                    "check S3_BUCKET, S3_REGION and that the service may read and write it")
    except BotoCoreError as exc:
        return fail("export storage", f"{where} cannot be reached: {_short(exc)}", "check S3_ENDPOINT_URL, S3_REGION")
    return ok("export storage", f"{where} reachable")


# --- PostHog -----------------------------------------------------------------------------------------------


async def check_posthog(settings: Settings, database: Database | None) -> list[Result]:
    from sqlalchemy import select

    from core.models import PostHogConnection
    from posthog_api import PostHogError, configured_connection, open_connection

    stored = []
    results: list[Result] = []
    if database is None:
        results.append(fail("posthog", "stored connections not checked: the database is not ready",
                            "fix the database first"))
    else:
        async with database.session() as session:
            stored = (await session.execute(
                select(PostHogConnection.id, PostHogConnection.host, PostHogConnection.project_id)
                .order_by(PostHogConnection.id)
            )).all()
    configured = configured_connection(settings)
    targets: list[tuple[str, int | None]] = []  # (label, stored id or None for the configured one)
    seen: set[tuple[str, int]] = set()
    for connection_id, host, project_id in stored:
        targets.append((f"posthog #{connection_id} {host} project {project_id}", connection_id))
        seen.add((host, project_id))
    if (configured.host, configured.project_id) not in seen:
        targets.append((f"posthog {configured.host} project {configured.project_id} (POSTHOG_HOST)", None))

    async def one(label: str, connection_id: int | None) -> Result:
        if connection_id is None:
            connection = configured
        else:
            try:
                async with database.session() as session:
                    connection = await session.get(PostHogConnection, connection_id)
            except Exception as exc:  # noqa: BLE001 - most often SECRET_KEY cannot decrypt the API key
                return fail(label, f"the stored API key cannot be read: {_short(exc)}",
                            "set SECRET_KEY to the key it was saved with")
        if connection.host == "demo":
            label = f"posthog #{connection_id} demo project" if connection_id else "posthog demo project"
        try:
            source = open_connection(connection, settings, interactive=True)
        except ValueError as exc:
            return fail(label, _short(exc), "set POSTHOG_PROJECT_ID and POSTHOG_API_KEY")
        try:
            async with source:
                name = await asyncio.wait_for(source.check_access(), NETWORK_SECONDS)
        except TimeoutError:
            return fail(label, f"PostHog did not answer within {NETWORK_SECONDS:g} s",
                        "check the host and outbound HTTPS to it")
        except PostHogError as exc:
            fix = ("create a new personal API key in PostHog and connect again (`/posthog connect`, or "
                   "POSTHOG_API_KEY)" if exc.status in (401, 403) else
                   "check the project id" if exc.status == 404 else "check the host and PostHog's status")
            return fail(label, _short(exc), fix)
        except Exception as exc:  # noqa: BLE001 - network errors
            return fail(label, f"PostHog cannot be reached: {_short(exc)}", "check the host and outbound HTTPS")
        return ok(label, f"answers ('{name}')")

    return results + list(await asyncio.gather(*(one(label, cid) for label, cid in targets)))


# --- PUBLIC_URL --------------------------------------------------------------------------------------------


async def check_public_url(settings: Settings) -> list[Result]:
    import aiohttp

    url = settings.public_url.rstrip("/") + "/healthz"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUBLIC_URL_SECONDS)) as session:
            async with session.get(url, allow_redirects=True) as response:
                status = response.status
                body = await response.json(content_type=None) if status == 200 else None
    except aiohttp.ClientConnectorDNSError as exc:
        return [fail("public url", f"{settings.public_url} does not resolve: {_short(exc)}", "correct PUBLIC_URL")]
    except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, TimeoutError) as exc:
        reason = "time-out" if isinstance(exc, TimeoutError) else "connection refused"
        return [warn("public url", f"nothing answers at {url} ({reason}); fine when `serve` is not running, "
                     "otherwise check PUBLIC_URL and the proxy in front of it")]
    except (aiohttp.ClientError, ValueError) as exc:
        return [fail("public url", f"{url}: {_short(exc)}", "check PUBLIC_URL and the proxy in front of `serve`")]
    if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
        return [ok("public url", f"{url} answers")]
    return [fail("public url", f"{url} answers HTTP {status}, not this service's health check",
                 "point PUBLIC_URL (and the proxy) at `serve`")]


# --- running -----------------------------------------------------------------------------------------------


async def _guarded(name: str, check: Callable[[], Awaitable[list[Result]]], timeout: float) -> list[Result]:
    try:
        return await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return [fail(name, f"the check did not finish within {timeout:g} s", "see the other lines, then retry")]
    except Exception as exc:  # noqa: BLE001 - a broken check is reported, the others go on
        return [fail(name, f"the check itself failed: {type(exc).__name__}: {_short(exc)}", "report this")]


async def run_checks(settings: Settings | None, *, timeout: float = CHECK_SECONDS) -> list[Result]:
    """Every check, concurrently, in a stable order."""
    if settings is None:
        return await _guarded("fonts", check_fonts, timeout)
    from core.db import Database

    database_results = await _guarded("database", lambda: check_database(settings), timeout)
    database_ok = all(r.status == "ok" for r in database_results)
    database = Database(settings.database_url) if database_ok else None

    try:
        groups = await asyncio.gather(
            _guarded("browser", lambda: check_browser(settings), timeout),
            _guarded("fonts", check_fonts, timeout),
            _guarded("slack", lambda: check_slack(settings, database), timeout),
            _guarded("email", lambda: check_email(settings), timeout),
            _guarded("export storage", lambda: check_export_storage(settings), timeout),
            _guarded("posthog", lambda: check_posthog(settings, database), timeout),
            _guarded("public url", lambda: check_public_url(settings), timeout),
        )
    finally:
        if database is not None:
            await database.dispose()
    return database_results + [result for group in groups for result in group]


def doctor(_args: argparse.Namespace | None = None) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # reading the revision is not news
    settings, results = load_settings()
    for result in results:
        print(result.line(), flush=True)
    checked = asyncio.run(run_checks(settings))
    for result in checked:
        print(result.line(), flush=True)
    failed = [r for r in results + checked if r.status == "fail"]
    warned = [r for r in results + checked if r.status == "warn"]
    summary = f"{len(failed)} problem{'s' if len(failed) != 1 else ''}"
    if warned:
        summary += f", {len(warned)} warning{'s' if len(warned) != 1 else ''}"
    print(summary if failed or warned else "all checks passed")
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check settings, database, browser, fonts, Slack, email, storage, PostHog and PUBLIC_URL",
        description="Runs every check (each with a short time-out) and prints ✓ or ✗ with the fix; exits 1 when "
        "any check fails. No secret is printed.",
    )
    parser.set_defaults(func=doctor)


__all__ = ["Result", "doctor", "register", "run_checks"]

if __name__ == "__main__":  # `python -m scheduler.doctor` works even when app.py's start-up cannot
    raise SystemExit(doctor())
