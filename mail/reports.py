"""What the scheduler hands to `mail/` and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from posthog_api.content import Dashboard, Insight


@dataclass(slots=True)
class ReportImage:
    """One rendered picture: the insight, or one dashboard tile. `link` opens it in PostHog."""

    title: str
    png: bytes
    link: str | None = None


@dataclass(slots=True)
class EmailReport:
    """One subscription's content for one recipient. Dashboard images come one per tile, in layout order."""

    subscription_id: int
    recipient: str
    title: str
    schedule_summary: str
    posthog_url: str
    content: Insight | Dashboard
    images: list[ReportImage] = field(default_factory=list)


@dataclass(slots=True)
class EmailOutcome:
    """The result for one (subscription, recipient). `transient` failures are worth trying again later."""

    subscription_id: int
    recipient: str
    status: Literal["sent", "failed"]
    error: str | None = None
    message_id: str | None = None
    transient: bool = False
    linked_images: int = 0  # images sent as links because the email reached its size limit
