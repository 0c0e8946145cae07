"""Email delivery: reports, digests and notices composed as HTML + text with inline images, sent through SMTP,
Amazon SES or an outbox folder, and unsubscribe links that work without logging in.

The scheduler sends through `EmailSender` (and the notices); `app.py` mounts `add_routes`.
"""

from mail.reports import EmailOutcome, EmailReport
from mail.routes import add_routes
from mail.sending import EmailSender, send_failure_notice, send_reports, send_subscribed_notice
from mail.transports import (
    OutboxTransport,
    PermanentSendError,
    SendError,
    SesTransport,
    SmtpTransport,
    TransientSendError,
    Transport,
    make_transport,
)

__all__ = [
    "EmailOutcome",
    "EmailReport",
    "EmailSender",
    "OutboxTransport",
    "PermanentSendError",
    "SendError",
    "SesTransport",
    "SmtpTransport",
    "TransientSendError",
    "Transport",
    "add_routes",
    "make_transport",
    "send_failure_notice",
    "send_reports",
    "send_subscribed_notice",
]
