"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, port 0, in its own thread.

It records every accepted message (envelope and raw bytes) and can be scripted to answer RCPT TO for a given
address with a list of replies, one per attempt ("451 4.3.0 try later", then accept; or "550 5.1.1 no such
user" every time), the way real servers defer or refuse recipients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(slots=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    # address -> replies to RCPT TO, consumed one per attempt; an exhausted list accepts
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    greetings: int = 0  # EHLO/HELO commands: one per connection
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd hook
        with self.lock:
            self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        with self.lock:
            key = address.lower()
            self.rcpt_attempts[key] = self.rcpt_attempts.get(key, 0) + 1
            script = self.rcpt_script.get(key)
            if script:
                reply = script[0] if len(script) == 1 and script[0].startswith("5") else script.pop(0)
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()
        self.logins: list[bytes] = []  # user names that logged in successfully

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.username,
            self.password,
        )
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok, handled=False)


class _PortZeroController(Controller):
    """aiosmtpd's Controller connects to `self.port` to check the server is up; with port 0, read the real one."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


class SmtpServer:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.handler = RecordingHandler()
        kwargs = {}
        self.authenticator = _Authenticator(username, password or "") if username is not None else None
        if self.authenticator is not None:
            # Login over plain text is fine on loopback (aiosmtpd refuses it by default).
            kwargs = dict(authenticator=self.authenticator, auth_require_tls=False)
        self._controller = _PortZeroController(self.handler, hostname="127.0.0.1", port=0, **kwargs)
        self.host = "127.0.0.1"
        self.port = 0

    def start(self) -> SmtpServer:
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def script(self, address: str, *replies: str) -> None:
        """Answer RCPT TO for `address` with these replies in turn (a lone 5xx reply repeats forever)."""
        with self.handler.lock:
            self.handler.rcpt_script[address.lower()] = list(replies)

    @property
    def connections(self) -> int:
        with self.handler.lock:
            return self.handler.greetings

    def attempts(self, address: str) -> int:
        with self.handler.lock:
            return self.handler.rcpt_attempts.get(address.lower(), 0)


__all__ = ["Received", "SmtpServer"]
