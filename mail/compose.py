"""Turning reports into email messages: templates, inlined CSS, MIME with inline images, size budgets.

Structure of every message: multipart/alternative( text/plain, multipart/related( text/html, image/png... ) ),
the images referenced from the HTML by Content-ID.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import cssutils
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape
from premailer import Premailer

from core.models import utcnow
from core.settings import Settings
from core.tokens import unsubscribe_token
from mail.mime import image_part
from mail.reports import EmailReport
from posthog_api.content import Dashboard

log = logging.getLogger(__name__)

HTML_LIMIT = 100_000  # Gmail clips an HTML body above 102 KB; stay clearly below
_HEADROOM = 256_000  # room kept for the HTML, the text and the headers when budgeting images
_TEMPLATES = Path(__file__).parent / "templates"

cssutils.log.setLevel(logging.CRITICAL)  # premailer's CSS parser warns about every vendor property


class _MailPolicy(EmailPolicy):
    """policy.SMTP, except that header lines holding one long URL stay whole. The standard folding would turn
    `<https://.../unsubscribe/TOKEN>` into RFC 2047 encoded-words, which mail clients do not decode there."""

    _unfolded = frozenset({"list-unsubscribe"})

    def fold(self, name, value):
        if name.lower() in self._unfolded and value.isascii():
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if name.lower() in self._unfolded and str(value).isascii():
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = _MailPolicy(linesep="\r\n")


def safe_url(value: object) -> str:
    """Only http(s) links go into an email; anything else (javascript:, data:) becomes inert."""
    text = str(value or "")
    return text if urlsplit(text).scheme in ("http", "https") else "#"


environment = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=False,
    lstrip_blocks=False,
    keep_trailing_newline=True,
)
environment.filters["safe_url"] = safe_url


@dataclass(slots=True)
class _Picture:
    title: str
    png: bytes
    link: str | None
    fallback_link: str
    cid: str | None = None  # None: shown as a link because the size budget ran out


@dataclass(slots=True)
class _Section:
    subscription_id: int
    title: str
    kind: str
    description: str
    schedule_summary: str
    posthog_url: str
    unsubscribe_url: str
    images: list[_Picture] = field(default_factory=list)
    hidden_tiles: int = 0
    date_range: str = ""  # the period the images show, in words ("Last 7 days"); "" when it has none


@dataclass(slots=True)
class Composed:
    message: EmailMessage
    message_id: str
    linked_images: int = 0


def unsubscribe_url(subscription_ids: int | list[int], address: str, settings: Settings) -> str:
    token = unsubscribe_token(subscription_ids, address, settings=settings)
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"


def _encoded_size(png: bytes) -> int:
    # base64 (4/3) in 76-character lines plus CRLF, plus the part's own headers
    return math.ceil(len(png) / 57) * 78 + 400


def _sections(reports: list[EmailReport], settings: Settings) -> list[_Section]:
    sections = []
    for report in reports:
        content = report.content
        kind = "dashboard" if isinstance(content, Dashboard) else "insight"
        images = [
            _Picture(title=i.title, png=i.png, link=i.link, fallback_link=report.posthog_url) for i in report.images
        ]
        hidden = 0
        if kind == "dashboard":
            cap = max(0, settings.email_max_tiles)
            # The caller may render only the tiles that will be shown; count the rest from the dashboard.
            total = max(len(images), sum(1 for tile in content.tiles if tile.insight is not None))
            images = images[:cap]
            hidden = total - len(images)
        sections.append(
            _Section(
                subscription_id=report.subscription_id,
                title=report.title or getattr(content, "name", "") or f"Subscription {report.subscription_id}",
                kind=kind,
                description=(content.description or "").strip(),
                schedule_summary=report.schedule_summary,
                posthog_url=report.posthog_url,
                unsubscribe_url=unsubscribe_url(report.subscription_id, report.recipient, settings),
                images=images,
                hidden_tiles=hidden,
                date_range=getattr(content, "date_range", "") or "",
            )
        )
    return sections


def _assign_cids(sections: list[_Section], max_bytes: int, domain: str) -> int:
    """Give images a Content-ID while they fit the budget; the rest become links. Returns how many did not."""
    budget = max_bytes - _HEADROOM
    linked = 0
    for section in sections:
        for picture in section.images:
            size = _encoded_size(picture.png)
            if size <= budget:
                budget -= size
                picture.cid = f"chart-{secrets.token_hex(8)}@{domain}"
            else:
                linked += 1
    return linked


_premailer_lock = threading.Lock()  # cssutils keeps global state; one transform at a time is safe and enough


@lru_cache(maxsize=64)
def _inline_css(html: str) -> str:
    # No network: external stylesheets are never fetched. Media queries (mobile, dark mode) cannot be inlined,
    # so premailer keeps them in a <style> block, with their !important intact. Cached: every recipient of a
    # report shares the same page but for a few values, swapped in afterwards (see `_personal_values`).
    with _premailer_lock:
        return _transform(html)


def _transform(html: str) -> str:
    return Premailer(
        html,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        disable_basic_attributes=["width", "height"],  # keep width="550" on images: Outlook sizes by it
        cssutils_logging_level=logging.CRITICAL,
    ).transform()


async def render_html(template: str, **context) -> str:
    html = environment.get_template(template).render(**context)
    return await asyncio.to_thread(_inline_css, html)


def render_text(template: str, **context) -> str:
    return environment.get_template(template).render(**context)


def _sender_domain(settings: Settings) -> str:
    address = parseaddr(settings.email_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _new_message(*, subject: str, recipient: str, settings: Settings, list_unsubscribe: str | None) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    # Titles come from PostHog and may hold line breaks, which a header cannot: one line, single-spaced.
    message["Subject"] = " ".join(subject.split())
    message["From"] = settings.email_from
    message["To"] = Address(addr_spec=recipient)
    if settings.email_reply_to:
        message["Reply-To"] = settings.email_reply_to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=_sender_domain(settings))
    if list_unsubscribe:
        message["List-Unsubscribe"] = f"<{list_unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058 one-click
    message["Auto-Submitted"] = "auto-generated"
    return message


def _assemble(message: EmailMessage, text: str, html: str, pictures: list[_Picture]) -> None:
    # quoted-printable keeps every line 7-bit and short, whatever the server's 8BITMIME support.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = message.get_payload()[1]
    if pictures:
        html_part.make_related()
    for index, picture in enumerate(pictures, start=1):
        html_part.attach(
            image_part(picture.png, cid=f"<{picture.cid}>", filename=f"chart-{index}.png", policy=message.policy)
        )


_PLACEHOLDER_NONCE = secrets.token_hex(6)  # no user text can contain a placeholder by accident


@contextmanager
def _personal_values(sections: list[_Section], context: dict):
    """Stand-ins for what differs from one recipient to the next (unsubscribe links, Content-IDs) while the HTML
    is rendered and inlined, so that premailer's work is shared by every recipient of the same report; yields
    the function that puts the real values back."""
    real: dict[str, str] = {}

    def stand_in(value: str, kind: str) -> str:
        number = f"{_PLACEHOLDER_NONCE}-{len(real):04d}"
        placeholder = f"https://personal.invalid/{number}" if kind == "url" else f"personal-{number}"
        real[placeholder] = value
        return placeholder

    saved = [(s, s.unsubscribe_url, [(p, p.cid) for p in s.images]) for s in sections]
    saved_all = context["unsubscribe_url"]
    context["unsubscribe_url"] = stand_in(saved_all, "url")
    for section in sections:
        section.unsubscribe_url = stand_in(section.unsubscribe_url, "url")
        for picture in section.images:
            if picture.cid:
                picture.cid = stand_in(picture.cid, "cid")

    def personalize(html: str) -> str:
        for placeholder, value in real.items():
            html = html.replace(placeholder, str(escape(value)))
        return html

    try:
        yield personalize
    finally:
        context["unsubscribe_url"] = saved_all
        for section, url, pictures in saved:
            section.unsubscribe_url = url
            for picture, cid in pictures:
                picture.cid = cid


def _subject(sections: list[_Section]) -> str:
    if len(sections) == 1:
        return f"{sections[0].title} – your PostHog report"
    others = len(sections) - 1
    return f"{sections[0].title} and {others} more – your PostHog reports"


async def compose_reports(reports: list[EmailReport], settings: Settings) -> Composed:
    """One email for one recipient: a single report, or several combined into a digest."""
    if not reports:
        raise ValueError("no reports to compose")
    recipient = reports[0].recipient
    sections = _sections(reports, settings)
    linked = _assign_cids(sections, settings.email_max_bytes, _sender_domain(settings))
    ids = [section.subscription_id for section in sections]
    all_url = unsubscribe_url(ids, recipient, settings)
    subject = _subject(sections)
    context = dict(subject=subject, sections=sections, unsubscribe_url=all_url, linked_images=linked)
    context["preheader"] = ", ".join(s.title for s in sections)
    text = render_text("report.txt", **context)
    with _personal_values(sections, context) as personalize:
        html = await render_html("report.html", compact=False, **context)
        if len(html.encode()) > HTML_LIMIT:
            # Long descriptions are the only part that grows without bound; drop them before Gmail clips it.
            html = await render_html("report.html", compact=True, **context)
            if len(html.encode()) > HTML_LIMIT:
                log.warning("email HTML is %d bytes; Gmail will clip it", len(html.encode()))
    html = personalize(html)
    message = _new_message(subject=subject, recipient=recipient, settings=settings, list_unsubscribe=all_url)
    _assemble(message, text, html, [p for s in sections for p in s.images if p.cid])
    # Files go in while the email stays under EMAIL_MAX_BYTES (after its images); a file too large for it is
    # left out rather than have the server refuse the whole email.
    room = settings.email_max_bytes - _HEADROOM - sum(
        _encoded_size(p.png) for s in sections for p in s.images if p.cid)
    for report in reports:
        for item in report.attachments:
            size = _encoded_size(item.data)
            if size > room:
                log.warning("%s left out of the email to %s: %d bytes is past EMAIL_MAX_BYTES", item.filename,
                            recipient, len(item.data))
                continue
            room -= size
            maintype, _, subtype = item.content_type.partition("/")
            message.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=item.filename)
    return Composed(message=message, message_id=message["Message-ID"], linked_images=linked)


async def compose_subscribed_notice(
    *,
    recipient: str,
    subscription_id: int,
    title: str,
    kind: str,
    schedule_summary: str,
    posthog_url: str,
    subscribed_by: str,
    settings: Settings,
) -> Composed:
    unsubscribe = unsubscribe_url(subscription_id, recipient, settings)
    subject = f"You have been subscribed to {title}"
    context = dict(
        subject=subject, preheader=f"You will receive it {schedule_summary}.", title=title, kind=kind,
        schedule_summary=schedule_summary, posthog_url=posthog_url, subscribed_by=subscribed_by,
        unsubscribe_url=unsubscribe,
    )
    html = await render_html("subscribed.html", **context)
    message = _new_message(subject=subject, recipient=recipient, settings=settings, list_unsubscribe=unsubscribe)
    _assemble(message, render_text("subscribed.txt", **context), html, [])
    return Composed(message=message, message_id=message["Message-ID"])


async def compose_failure_notice(
    *,
    recipient: str,
    title: str,
    kind: str,
    error: str,
    paused: bool,
    posthog_url: str,
    failed_recipients: list[str],
    settings: Settings,
) -> Composed:
    subject = f"{title} could not be delivered"
    context = dict(
        subject=subject, preheader=error[:120], title=title, kind=kind, error=error, paused=paused,
        posthog_url=posthog_url, recipients=failed_recipients,
    )
    html = await render_html("failure.html", **context)
    message = _new_message(subject=subject, recipient=recipient, settings=settings, list_unsubscribe=None)
    _assemble(message, render_text("failure.txt", **context), html, [])
    return Composed(message=message, message_id=message["Message-ID"])

