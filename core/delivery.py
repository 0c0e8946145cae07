"""What a delivery hands to a channel, and what the channel answers: one shape for Slack and email.

The pipeline renders a subscription's content once into `Image`s, addresses it to each target as a `Report`,
and hands the reports to a `Sender` (Slack's in `bot/`, email's in `mail/`). A sender only sends: it never
writes to the database. It answers one `Outcome` per report; the pipeline records it, retries what is
temporary and pauses the subscription when the outcome names a configuration problem.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from core.models import Subscription


@dataclass(slots=True)
class Image:
    """One rendered picture: an insight, or one dashboard tile. `link` opens what it shows in PostHog."""

    title: str
    png: bytes
    link: str | None = None


@dataclass(slots=True)
class Attachment:
    """A file that goes with a report (the data as CSV or Excel, the PDF), attached to the email and uploaded
    into the Slack thread."""

    filename: str
    data: bytes
    content_type: str


@dataclass(slots=True)
class Report:
    """One subscription's rendered content, addressed to one target (a Slack channel or an email address)."""

    subscription: Subscription
    address: str
    title: str
    posthog_url: str
    schedule_summary: str
    content: Any  # the posthog_api Insight or Dashboard the images show
    images: list[Image] = field(default_factory=list)
    next_delivery: datetime | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def subscription_id(self) -> int:
        return self.subscription.id


@dataclass
class Outcome:
    """The result of sending one report. A failed outcome is `transient` when trying again later may work; it
    carries a `pause_reason` when it cannot work until someone changes something (channel archived, token
    revoked). `external_id` and `progress` say how far a failed send got (Slack: the posted message and the
    images already in it), so that a retry resumes instead of starting over."""

    status: Literal["sent", "failed"]
    error: str | None = None
    transient: bool = False
    external_id: str | None = None  # Slack message ts, email Message-ID
    progress: int = 0
    pause_reason: str | None = None

    @property
    def sent(self) -> bool:
        return self.status == "sent"

    @classmethod
    def failed(cls, error: str, *, transient: bool = False) -> Outcome:
        return cls("failed", error=error, transient=transient)


class Sender(Protocol):
    """A channel. `opened()` gives one run its sending side (with what it keeps open for the run, such as SMTP
    connections); its `send` takes the reports due for one target (one Slack post; one recipient's email, a
    digest when several) and answers one outcome per report, in order. `resume` is the outcome of an earlier
    failed try of the same target in this run. `close()` releases what the sender keeps between runs."""

    def opened(self) -> AbstractAsyncContextManager[RunSender]: ...

    async def close(self) -> None: ...


class RunSender(Protocol):
    async def send(self, reports: list[Report], resume: Outcome | None = None) -> list[Outcome]: ...
