"""What an email shows (`EmailReport`) and what sending it gave (`EmailOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.delivery import Attachment, Image, Outcome
from posthog_api.content import Dashboard, Insight


@dataclass(slots=True)
class EmailReport:
    """One subscription's content for one recipient. Dashboard images come one per tile, in layout order."""

    subscription_id: int
    recipient: str
    title: str
    schedule_summary: str
    posthog_url: str
    content: Insight | Dashboard
    images: list[Image] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)  # files of the data, attached to the email


@dataclass(kw_only=True)
class EmailOutcome(Outcome):
    """The delivery outcome for one (subscription, recipient); `external_id` is the email's Message-ID."""

    subscription_id: int
    recipient: str
    linked_images: int = 0  # images sent as links because the email reached its size limit

    @property
    def message_id(self) -> str | None:
        return self.external_id
