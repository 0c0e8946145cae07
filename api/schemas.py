"""Request and response models of the API. They validate requests (strictly: a number is not a string) and are the
OpenAPI document's schemas. Lengths follow the database columns; no text may hold a NUL character (PostgreSQL
cannot store one)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.subscriptions import THEMES

from .registry import MAX_ID

NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ContentType = Literal["insight", "dashboard"]
TargetType = Literal["slack", "email"]
AttachFormat = Literal["csv", "xlsx", "pdf"]
Theme = Literal[THEMES]  # the lifecycle's list, so that the document and the rule cannot disagree
ChannelId = Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]{2,30}$")]
Address = text(320, 3)
T = TypeVar("T")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=200, description="Items per page.")
    cursor: text(40) | None = Field(None, description="`next_cursor` of the previous page.")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a page starts after; None for the first page. Raises ValueError for a cursor we did not make."""
    if not cursor:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor of this API") from None
    prefix, _, number = decoded.partition(":")
    if prefix != "after" or not (number.isascii() and number.isdigit()) or not 0 < int(number[:11]) <= MAX_ID:
        raise ValueError("not a cursor of this API")
    return int(number)


# --- subscriptions -----------------------------------------------------------------------------------------


class ScheduleOut(BaseModel):
    summary: str = Field(description="In words, e.g. “every Monday at 09:00 (Europe/London)”.")
    timezone: str
    frequency: str
    interval: int
    byweekday: list[str]
    hour: int
    minute: int


class Subscription(BaseModel):
    id: int
    connection_id: int
    content_type: ContentType
    content_ref: str
    title: str
    target_type: TargetType
    slack_channel_id: str | None
    slack_channel_name: str | None
    email_recipients: list[str]
    schedule: ScheduleOut | None = Field(description="null when the stored schedule can no longer be read.")
    date_from: str | None = Field(description="The period each delivery shows (PostHog's relative dates); "
                                  "null: the content's own.")
    date_to: str | None
    attach_format: AttachFormat | None
    theme: Theme = Field(description="The images' palette: light or dark.")
    enabled: bool
    paused_reason: str | None
    next_delivery_at: datetime | None
    last_delivery_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionPage(Page[Subscription]):
    """A page of subscriptions."""


class SubscriptionQuery(PageQuery):
    channel: text(32) | None = Field(None, description="Only this Slack channel's (its id, e.g. C0123).")
    target_type: TargetType | None = Field(None, description="Only Slack or only email subscriptions.")
    enabled: bool | None = Field(None, description="Only running (true) or only paused (false) ones.")


class SubscriptionCreate(Request):
    content_type: ContentType
    content_ref: text(64, 1) = Field(description="Dashboard id, or insight id or short id, as PostHog knows it.",
                                     examples=["42"])
    connection_id: Id | None = Field(None, description="Which connected PostHog project (`GET /connections`); "
                                     "may be left out when there is only one.")
    slack_channel_id: ChannelId | None = Field(None, description="Deliver into this Slack channel…")
    email_recipients: list[Address] | None = Field(None, max_length=200, description="…or to these addresses.")
    schedule: text(200, 1) = Field(
        "weekly", description="When, as in Slack: “weekly on monday at 9:00”, “daily at 8am”, “weekdays at "
        "17:30”, an RRULE; may end with a period and a file: “weekly over the last 7 days with xlsx”.",
        examples=["weekly on monday at 9:00"])
    timezone: text(64, 1) = Field("UTC", description="IANA time zone of the schedule.", examples=["Europe/London"])
    date_range: text(100) | None = Field(None, description="The period shown, e.g. “last 7 days”; null: the "
                                         "content's own.")
    attach_format: AttachFormat | None = Field(None, description="The data as a file with every delivery.")
    theme: Theme = Field("light", description="The images' palette: light or dark.")


class SubscriptionUpdate(Request):
    content_ref: text(64, 1) | None = None
    title: text(400, 1) | None = None
    slack_channel_id: ChannelId | None = None
    email_recipients: list[Address] | None = Field(None, max_length=200)
    confirm_readd: list[Address] = Field(default_factory=list, max_length=200, description="Addresses that "
                                         "unsubscribed themselves and may be put back.")
    schedule: text(200, 1) | None = None
    timezone: text(64, 1) | None = Field(None, description="The zone of `schedule` (default: the current one).")
    date_range: text(100) | None = Field(None, description="A new period; null: back to the content's own. Left "
                                         "out: unchanged.")
    theme: Theme | None = Field(None, description="The images' palette: light or dark. Left out: unchanged.")


class DeliveryTarget(BaseModel):
    kind: TargetType
    address: str = Field(description="Slack channel id or email address.")
    status: str = Field(description="pending, sent, failed or skipped.")
    attempts: int
    error: str | None
    sent_at: datetime | None


class Delivery(BaseModel):
    id: int
    subscription_id: int
    scheduled_for: datetime
    trigger: str = Field(description="schedule, manual or catch_up.")
    status: str = Field(description="pending, running, succeeded, partial, failed or skipped.")
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    targets: list[DeliveryTarget]


class DeliveryPage(Page[Delivery]):
    """A page of deliveries."""


# --- exports -----------------------------------------------------------------------------------------------


class ExportCreate(Request):
    kind: Literal["insight", "dashboard", "events", "persons", "cohort", "groups"]
    ref: text(64) = Field("", description="Insight id or short id, dashboard id, cohort id, group type index.")
    format: Literal["csv", "xlsx", "pdf"] = "csv"
    connection_id: Id | None = None
    date_range: text(100) | None = Field(None, description="Events: “last 7 days”, “7d”, “this month”.")
    events: list[text(200, 1)] = Field(default_factory=list, max_length=50)
    columns: list[text(200, 1)] = Field(default_factory=list, max_length=100)
    where: text(2000) | None = Field(None, description="A HogQL filter, e.g. “properties.$browser = 'Chrome'”.")
    bom: bool = Field(False, description="CSV: start with a byte-order mark (for Excel).")


class Export(BaseModel):
    id: int
    kind: str
    ref: str
    format: str
    status: str = Field(description="pending, running, ready or failed.")
    rows_done: int = Field(description="Progress: rows written so far.")
    row_count: int | None
    size_bytes: int | None
    truncated: bool = Field(description="Stopped at EXPORT_MAX_ROWS: the source has more.")
    filename: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None


class Download(BaseModel):
    url: str = Field(description="The file; the link stops working at `expires_at`.")
    expires_at: datetime
    filename: str | None
    size_bytes: int | None


# --- connections -------------------------------------------------------------------------------------------


class Connection(BaseModel):
    id: int
    name: str = Field(description="The project's name in PostHog.")
    host: str = Field(description="The PostHog address, or “demo” for the bundled demo project.")
    project_id: int
    created_at: datetime


class ConnectionCreate(Request):
    host: text(200, 1) = Field(examples=["https://us.posthog.com"])
    project_id: Annotated[int, Field(ge=1, le=10**18 - 1)]
    api_key: text(255, 1) = Field(description="A PostHog personal API key (phx_...). It is checked with PostHog "
                                  "before it is saved, kept encrypted and never returned.")


class ConnectionList(BaseModel):
    items: list[Connection]


# --- schedules ---------------------------------------------------------------------------------------------


class SchedulePreviewQuery(BaseModel):
    rule: text(200, 1) = Field(description="A schedule phrase or an RRULE.", examples=["weekly on monday at 9:00"])
    tz: text(64, 1) = Field("UTC", description="IANA time zone.")
    start: text(40) | None = Field(None, alias="from", description="ISO date or time to start from (default: now).")
    count: int = Field(5, ge=0, le=100, description="How many occurrences.")


class Occurrence(BaseModel):
    local: datetime = Field(description="In the schedule's zone.")
    utc: datetime


class SchedulePreview(BaseModel):
    summary: str
    timezone: str
    occurrences: list[Occurrence]


# --- audit trail -------------------------------------------------------------------------------------------


class AuditQuery(PageQuery):
    object_type: Literal["subscription", "connection", "api_key", "share"] | None = Field(
        None, description="Only changes to this kind of object.")
    object_id: Id | None = Field(None, description="Only changes to this object (with `object_type`).")
    since: datetime | None = Field(None, description="Only changes at or after this time.")


class AuditRecord(BaseModel):
    id: int
    at: datetime
    object_type: str = Field(description="subscription, connection, api_key or share.")
    object_id: int
    action: str = Field(description="created, changed, paused, resumed, revoked or deleted.")
    changes: dict[str, list[Any]] = Field(
        description="Each changed field: [before, after]. Secrets show only that they were set or changed.")
    actor: str = Field(description="Who: `slack:U123`, `api:NAME (key #ID)`, `cli:USER`, `email:ADDRESS` or "
                       "`scheduler:system`.")
    door: str = Field(description="slack, api, cli, email or scheduler.")
    origin: str = Field(description="From where: the Slack workspace, the client's address, the host.")


class AuditPage(Page[AuditRecord]):
    pass


# --- share links -------------------------------------------------------------------------------------------


class ShareCreate(Request):
    content_type: ContentType
    content_ref: text(64, 1) = Field(description="Dashboard id, or insight id or short id.", examples=["42"])
    connection_id: Id | None = Field(None, description="Which connected PostHog project; needed when there are "
                                     "several.")
    password: text(200, 1) | None = Field(None, description="Viewers are asked for it first; kept only as a salted "
                                          "hash.")
    allowed_origins: list[text(200, 1)] = Field(
        default_factory=list, max_length=20, description="Origins that may embed `/embedded/<token>` in an "
        "iframe, e.g. `https://intranet.acme.com`; empty: any.")
    expires_at: datetime | None = Field(None, description="When the link stops working; null: never.")


class Share(BaseModel):
    id: int
    connection_id: int
    content_type: ContentType
    content_ref: str
    title: str = Field(description="The content's name in PostHog when the link was made.")
    state: Literal["active", "revoked", "expired"]
    has_password: bool
    allowed_origins: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    previous_token_valid_until: datetime | None = Field(
        description="After a rotation: until when the token before it still works.")
    created_at: datetime


class ShareWithLinks(Share):
    """A share with its token and links: given once, when it is made or rotated (only a hash is kept)."""

    token: str
    url: str = Field(description="The page for people: `/shared/<token>`.")
    embed_url: str = Field(description="The page for iframes: `/embedded/<token>`.")
    json_url: str = Field(description="The normalized content as JSON.")
    embed_code: str = Field(description="An iframe to paste into another site.")


class ShareQuery(PageQuery):
    include_revoked: bool = Field(False, description="List revoked links too.")


class SharePage(Page[Share]):
    pass
