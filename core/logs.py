"""Logging of the service: readable lines (`LOG_FORMAT=text`) or one JSON object per line (`json`), and never a
secret in either.

Ids that say what a record is about are passed as `extra` (`log.info("...", extra={"delivery_id": 7})`), or set
for a whole piece of work with `log_context(delivery_id=7, ...)`, so that every record logged inside it (ours and
the libraries') carries them; the JSON format puts them in their own fields.

`Redact` rewrites every record before any handler writes it: Slack tokens (`xoxb-...`), PostHog personal API keys
(`phx_...`), this service's API keys (`phe_...`) and the configured secrets (SECRET_KEY, SMTP password, Slack app
secrets, the PostHog API key) become `[redacted]`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

REDACTED = "[redacted]"
ID_FIELDS = ("delivery_id", "subscription_id", "workspace_id", "target", "export_id")
CHATTY = ("alembic.runtime.plugins", "apscheduler.executors.default", "apscheduler.scheduler")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_PATTERNS = (
    re.compile(r"\bxox[abprse](?:\.xox[abprse])?-[A-Za-z0-9-]+"),  # Slack bot/user/refresh/... tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"\bphx_[A-Za-z0-9_]+"),  # PostHog personal API keys
    re.compile(r"\bphe_[A-Za-z0-9_-]+"),  # our own REST API keys (core/api_keys.py)
)
_MIN_SECRET = 6  # a configured "secret" shorter than this would redact ordinary words


_context: ContextVar[dict[str, object] | None] = ContextVar("log_context", default=None)


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Records logged inside carry these ids (None leaves an id out). Tasks started inside inherit them."""
    if unknown := set(ids) - set(ID_FIELDS):
        raise ValueError(f"not a log id: {', '.join(sorted(unknown))} (known: {', '.join(ID_FIELDS)})")
    known = {name: value for name, value in ids.items() if value is not None}
    token = _context.set({**(_context.get() or {}), **known})
    try:
        yield
    finally:
        _context.reset(token)


class ContextIds(logging.Filter):
    """Puts the ids of the current `log_context` on each record that does not name them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class Redact(logging.Filter):
    """Removes secrets from a record's message and traceback (attach it to handlers: logger filters do not see
    records of child loggers)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_SECRET}
        self._secrets = sorted(values, key=len, reverse=True)  # longest first: a key containing another

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logged as given, still redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids present, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value if isinstance(value, int | float | str | bool) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def configured_secrets(settings) -> list[str]:
    keys = [k for k in (settings.secret_key or "").split(",")]
    return [*keys, settings.smtp_password, settings.slack_client_secret, settings.slack_signing_secret,
            settings.slack_app_token, settings.posthog_api_key]


def make_handler(settings, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextIds())
    handler.addFilter(Redact(configured_secrets(settings)))
    return handler


def _alembic_context_notice(record: logging.LogRecord) -> bool:
    """Alembic announces its dialect each time it looks at a database (every schema check of `/readyz`)."""
    return not str(record.msg).startswith(("Context impl ", "Will assume "))


def configure_logging(settings) -> None:
    """The root logger writes to stderr in LOG_FORMAT at LOG_LEVEL, secrets redacted (replaces any set-up)."""
    logging.basicConfig(level=settings.log_level.upper(), handlers=[make_handler(settings)], force=True)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    migration = logging.getLogger("alembic.runtime.migration")
    if _alembic_context_notice not in migration.filters:
        migration.addFilter(_alembic_context_notice)
