"""Builders shared by the mail tests: realistic PNGs, reports, settings and a running SMTP server."""

from __future__ import annotations

import io
import random
from email.message import EmailMessage

from PIL import Image, ImageDraw

from core.delivery import Image as ReportImage
from core.settings import Settings
from mail import EmailReport
from posthog_api.content import ChartKind, Dashboard, Insight, Tile


def noise_png(width: int = 330, height: int = 260, seed: int = 0) -> bytes:
    """A chart-like PNG that does not compress away: random pixels under a few lines (~100-300 KB)."""
    image = Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))
    draw = ImageDraw.Draw(image)
    for i in range(5):
        draw.line([(0, 40 * i + 20), (width, 40 * i + 60)], fill=(29, 74, 255), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mail_settings(**overrides) -> Settings:
    values = dict(
        email_from="PostHog Reports <reports@exports.example>",
        email_reply_to="help@exports.example",
        public_url="https://exports.example",
        email_retry_base_seconds=0.01,
        email_retry_attempts=3,
    )
    values.update(overrides)
    return Settings(**values)


def insight_report(subscription_id: int = 1, recipient: str = "ada@example.com", *, png: bytes | None = None,
                   title: str = "Weekly signups") -> EmailReport:
    insight = Insight(id=10 + subscription_id, short_id=f"ab{subscription_id}", name=title, kind=ChartKind.LINE,
                      description="Signups per week, all sources.")
    return EmailReport(
        subscription_id=subscription_id,
        recipient=recipient,
        title=title,
        schedule_summary="every week on Monday at 09:00 (Europe/London)",
        posthog_url=f"https://us.posthog.com/project/1/insights/ab{subscription_id}",
        content=insight,
        images=[ReportImage(title=title, png=png if png is not None else noise_png(seed=subscription_id))],
    )


def dashboard_report(tiles: int = 9, subscription_id: int = 2, recipient: str = "ada@example.com",
                     pngs: list[bytes] | None = None) -> EmailReport:
    dashboard = Dashboard(
        id=42, name="Product health", description="The numbers we look at every Monday.",
        tiles=[
            Tile(id=i, x=(i % 2) * 6, y=i // 2, w=6, h=5,
                 insight=Insight(id=100 + i, short_id=f"t{i}", name=f"Tile {i}", kind=ChartKind.BAR))
            for i in range(tiles)
        ],
        url="https://us.posthog.com/project/1/dashboard/42",
    )
    pngs = pngs if pngs is not None else [noise_png(seed=100 + i) for i in range(tiles)]
    return EmailReport(
        subscription_id=subscription_id,
        recipient=recipient,
        title="Product health",
        schedule_summary="every day at 08:00 (UTC)",
        posthog_url=dashboard.url,
        content=dashboard,
        images=[ReportImage(title=f"Tile {i}", png=png, link=f"{dashboard.url}?tile={i}") for i, png in
                enumerate(pngs)],
    )


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def inline_images(message: EmailMessage) -> dict[str, bytes]:
    """Content-ID (without angle brackets) -> PNG bytes of every image part."""
    return {
        part["Content-ID"].strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
