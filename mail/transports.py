"""Where composed emails go: an outbox folder of .eml files, an SMTP server, or Amazon SES.

Each transport sends one message to one recipient and says how a failure should be treated: a
`TransientSendError` is worth retrying (SMTP 4xx, lost connections, throttling), a `PermanentSendError` is not
(SMTP 5xx, a rejected address).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from core.models import utcnow
from core.settings import Settings
from mail import smtp_wire
from mail.mime import message_bytes

smtp_wire.install()  # aiosmtplib's regular expressions over each megabyte-long message, done at C speed


class SendError(Exception):
    transient = False


class TransientSendError(SendError):
    transient = True


class PermanentSendError(SendError):
    transient = False


class Transport(Protocol):
    async def send(self, message: EmailMessage, recipient: str) -> None: ...

    async def close(self) -> None: ...


def envelope_sender(settings: Settings) -> str:
    return parseaddr(settings.email_from)[1] or settings.email_from


# --- outbox ----------------------------------------------------------------------------------------------


class OutboxTransport:
    """Writes each email to `<outbox_dir>/<time>-<recipient>-<random>.eml` (the embedded default)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    async def send(self, message: EmailMessage, recipient: str) -> None:
        await asyncio.to_thread(self._write, message_bytes(message), recipient)

    def _write(self, data: bytes, recipient: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)[:80]
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{safe}-{secrets.token_hex(4)}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self.directory / name)  # readers never see a half-written file

    async def close(self) -> None:
        return None


# --- SMTP ------------------------------------------------------------------------------------------------


SMTP_CONNECTIONS = 4  # messages in flight at once: a run's emails are not sent one after another


class SmtpTransport:
    """Up to SMTP_CONNECTIONS SMTP connections, opened on first use and reused for every message of a run."""

    def __init__(self, settings: Settings, connections: int = SMTP_CONNECTIONS) -> None:
        self.settings = settings
        self.sender = envelope_sender(settings)
        self._idle: list[aiosmtplib.SMTP] = []  # connected and free
        self._slots = asyncio.Semaphore(connections)
        self._open: set[aiosmtplib.SMTP] = set()

    def _port(self) -> int:
        if self.settings.smtp_port:
            return self.settings.smtp_port
        return {"tls": 465, "starttls": 587}.get(self.settings.smtp_security, 25)

    async def _connected(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            self._open.discard(client)
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=self._port(),
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            timeout=settings.smtp_timeout_seconds,
        )
        await client.connect()
        self._open.add(client)
        return client

    def _drop(self, client: aiosmtplib.SMTP | None) -> None:
        if client is None:
            return
        self._open.discard(client)
        try:
            client.close()
        except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
            pass

    async def send(self, message: EmailMessage, recipient: str) -> None:
        data = message_bytes(message)
        async with self._slots:
            client: aiosmtplib.SMTP | None = None
            try:
                client = await self._connected()
                await client.sendmail(self.sender, [recipient], data)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refusal = exc.recipients[0]
                raise _by_code(refusal.code, f"{refusal.code} {refusal.message}") from exc
            except aiosmtplib.SMTPAuthenticationError as exc:
                self._drop(client)
                client = None
                raise PermanentSendError(f"the SMTP server refused the login: {exc.code} {exc.message}") from exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421 or not (client and client.is_connected):
                    self._drop(client)  # the server closed (or is closing) the connection
                    client = None
                raise _by_code(exc.code, f"{exc.code} {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._drop(client)
                client = None
                raise TransientSendError(f"SMTP server {self.settings.smtp_host}:{self._port()}: {exc}") from exc
            except ValueError as exc:  # an address aiosmtplib refuses to put on the wire
                raise PermanentSendError(str(exc)) from exc
            finally:
                if client is not None:
                    self._idle.append(client)

    async def close(self) -> None:
        clients, self._open, self._idle = list(self._open), set(), []
        for client in clients:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def _by_code(code: int, text: str) -> SendError:
    return TransientSendError(text) if 400 <= code < 500 else PermanentSendError(text)


# --- Amazon SES ------------------------------------------------------------------------------------------

_SES_TRANSIENT = {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
                  "ServiceUnavailable", "InternalFailure"}


class SesTransport:
    """Amazon SES v2 `SendEmail` with the raw MIME message; boto3 is blocking, so it runs in a thread."""

    def __init__(self, settings: Settings, client=None) -> None:
        self.settings = settings
        self.sender = envelope_sender(settings)
        self._client = client

    def _ses(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("sesv2", region_name=self.settings.ses_region)
        return self._client

    def _send(self, data: bytes, recipient: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        try:
            self._ses().send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [recipient]},
                Content={"Raw": {"Data": data}},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            text = f"Amazon SES: {code}: {exc.response.get('Error', {}).get('Message', '')}"
            if code in _SES_TRANSIENT or status >= 500:
                raise TransientSendError(text) from exc
            raise PermanentSendError(text) from exc
        except (NoCredentialsError, NoRegionError) as exc:
            raise PermanentSendError(f"Amazon SES is not configured: {exc}") from exc
        except BotoCoreError as exc:  # endpoint unreachable, connection reset, missing credentials...
            raise TransientSendError(f"Amazon SES: {exc}") from exc

    async def send(self, message: EmailMessage, recipient: str) -> None:
        await asyncio.to_thread(self._send, message_bytes(message), recipient)

    async def close(self) -> None:
        return None


def make_transport(settings: Settings) -> Transport:
    if settings.email_transport == "smtp":
        return SmtpTransport(settings)
    if settings.email_transport == "ses":
        return SesTransport(settings)
    return OutboxTransport(settings.outbox_dir)
