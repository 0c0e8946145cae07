"""The schema: Slack workspaces, PostHog connections, subscriptions, deliveries, exported files, API keys and share
links.

Times are stored in UTC (`UTCDateTime` hands back aware datetimes on every database). Secrets are stored with
`EncryptedString`. The schema changes only through Alembic migrations; `tests/test_migrations.py` checks the
migrations and these models never drift apart.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.crypto import EncryptedString

# Named constraints keep migrations reproducible across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite would otherwise return naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text: drop the offset so that string comparison orders instants correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Slack -------------------------------------------------------------------------------------------------


class SlackWorkspace(TimestampMixin, Base):
    """A Slack workspace (team) that installed the app. Everything a workspace owns hangs off this row."""

    __tablename__ = "slack_workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    uninstalled_at: Mapped[datetime | None]

    installations: Mapped[list[SlackInstallation]] = relationship(
        back_populates="workspace", cascade="all, delete-orphan"
    )


class SlackInstallation(Base):
    """One OAuth installation (bot token, optionally rotating) of the app in a workspace."""

    __tablename__ = "slack_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32))  # the installing user
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_token: Mapped[str | None] = mapped_column(EncryptedString)
    bot_refresh_token: Mapped[str | None] = mapped_column(EncryptedString)
    bot_token_expires_at: Mapped[datetime | None]
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    user_token: Mapped[str | None] = mapped_column(EncryptedString)
    user_refresh_token: Mapped[str | None] = mapped_column(EncryptedString)
    user_token_expires_at: Mapped[datetime | None]
    user_scopes: Mapped[str] = mapped_column(Text, default="")
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    token_type: Mapped[str | None] = mapped_column(String(16))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)

    workspace: Mapped[SlackWorkspace] = relationship(back_populates="installations")


class SlackOAuthState(Base):
    """A one-time OAuth `state` value, consumed by the redirect (protects the install flow from CSRF)."""

    __tablename__ = "slack_oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]


# --- PostHog -----------------------------------------------------------------------------------------------


class PostHogConnection(TimestampMixin, Base):
    """A PostHog project a workspace (or the operator, when `workspace_id` is null) can fetch content from."""

    __tablename__ = "posthog_connections"
    __table_args__ = (UniqueConstraint("workspace_id", "host", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))  # the PostHog project's name, shown to users
    host: Mapped[str] = mapped_column(String(255))  # "demo" for the bundled demo project
    project_id: Mapped[int] = mapped_column(BigInteger)
    api_key: Mapped[str | None] = mapped_column(EncryptedString)
    created_by: Mapped[str] = mapped_column(String(255), default="")

    @property
    def is_demo(self) -> bool:
        return self.host == "demo"


# --- Subscriptions -----------------------------------------------------------------------------------------


class Subscription(TimestampMixin, Base):
    """What (an insight or dashboard), where (a Slack channel or email recipients) and when (a schedule)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_due", "enabled", "next_delivery_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int] = mapped_column(ForeignKey("posthog_connections.id", ondelete="CASCADE"))

    # what
    content_type: Mapped[str] = mapped_column(String(16))  # "insight" | "dashboard"
    content_ref: Mapped[str] = mapped_column(String(64))  # numeric id or short id, as PostHog knows it
    title: Mapped[str] = mapped_column(String(400), default="")  # last known name, for lists
    # the period shown (core.date_ranges.DateRange, PostHog's relative strings); no date_from: PostHog's own
    date_from: Mapped[str | None] = mapped_column(String(32))
    date_to: Mapped[str | None] = mapped_column(String(32))

    # where
    target_type: Mapped[str] = mapped_column(String(16))  # "slack" | "email"
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_channel_name: Mapped[str | None] = mapped_column(String(255))
    slack_images_in_thread: Mapped[bool] = mapped_column(Boolean, default=True)
    email_recipients: Mapped[list] = mapped_column(default=list)
    # Addresses that unsubscribed themselves (by their email's link): an edit does not put them back unasked.
    unsubscribed_recipients: Mapped[list] = mapped_column(default=list)
    image_width: Mapped[int | None] = mapped_column(Integer)
    attach_format: Mapped[str | None] = mapped_column(String(8))  # csv | xlsx | pdf: the data with every delivery
    theme: Mapped[str] = mapped_column(String(8), default="light")  # light | dark: the images' palette

    # when (the fields of core.schedules.Schedule)
    frequency: Mapped[str] = mapped_column(String(16))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    byweekday: Mapped[list] = mapped_column(default=list)
    bysetpos: Mapped[int | None] = mapped_column(Integer)
    bymonthday: Mapped[int | None] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer, default=9)
    minute: Mapped[int] = mapped_column(Integer, default=0)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    start_date: Mapped[date | None] = mapped_column(Date)
    until_date: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)

    # state
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None]
    next_delivery_at: Mapped[datetime | None]
    last_delivery_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Who made it, and so who is told when it is paused: a Slack user (by DM) or an email address.
    created_by_slack_user: Mapped[str | None] = mapped_column(String(32))
    created_by_email: Mapped[str | None] = mapped_column(String(320))

    connection: Mapped[PostHogConnection] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="subscription", passive_deletes=True)


class WelcomeNotice(Base):
    """A new email recipient still to be told who subscribed them, to what, and how to unsubscribe. Every door
    records these through the subscription lifecycle; the scheduler sends them and deletes the row."""

    __tablename__ = "welcome_notices"
    __table_args__ = (UniqueConstraint("subscription_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    subscribed_by: Mapped[str] = mapped_column(String(255), default="")  # as shown: "Ada Lovelace in Acme"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One occurrence of a subscription: unique per (subscription, scheduled time), so it is sent once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "scheduled_for"),
        Index("ix_deliveries_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual | catch_up
    # pending -> running -> succeeded | partial | failed; or skipped (missed beyond the grace period)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    subscription: Mapped[Subscription] = relationship(back_populates="deliveries")
    targets: Mapped[list[DeliveryTarget]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", passive_deletes=True
    )


class DeliveryTarget(Base):
    """The outcome of a delivery for one Slack channel or one email recipient."""

    __tablename__ = "delivery_targets"
    __table_args__ = (UniqueConstraint("delivery_id", "kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # slack | email
    address: Mapped[str] = mapped_column(String(320))  # channel id or email address
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255))  # Slack message ts, email Message-ID
    sent_at: Mapped[datetime | None]

    delivery: Mapped[Delivery] = relationship(back_populates="targets")


# --- Exports -----------------------------------------------------------------------------------------------


class ExportedAsset(Base):
    """An export: a job while it runs (claimed by one worker at a time, its progress saved), then a file kept for
    download until it expires."""

    __tablename__ = "exported_assets"
    __table_args__ = (Index("ix_exported_assets_status_lease", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("posthog_connections.id", ondelete="SET NULL")
    )
    content_type: Mapped[str] = mapped_column(String(16))  # insight | dashboard | events | persons | ...
    content_ref: Mapped[str] = mapped_column(String(64), default="")
    format: Mapped[str] = mapped_column(String(8))  # csv | xlsx | pdf
    # what exactly: date range, events, columns, where, cohort, group type, BOM (exports.requests.ExportRequest)
    request: Mapped[dict] = mapped_column(default=dict)
    # pending -> running -> ready | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)  # progress, saved as pages are written
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)  # stopped at EXPORT_MAX_ROWS
    filename: Mapped[str | None] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(512))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    # who asked, and so who is sent the file: a Slack user (by DM) or nobody (the command line waits for it)
    requested_by_slack_user: Mapped[str | None] = mapped_column(String(32))
    notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


# --- API keys ----------------------------------------------------------------------------------------------


class ApiKey(Base):
    """A key to the REST API (`/api/v1`), scoped to one workspace (or, with no workspace, to the operator's own
    subscriptions and connections: those the command line makes). Only a SHA-256 of the secret is kept; the
    secret is shown once, when the key is made (core/api_keys.py)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # "phe_" and the secret's first characters
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole secret
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who made it, and so who is told when something made with it pauses (like a subscription's creator).
    created_by_slack_user: Mapped[str | None] = mapped_column(String(32))
    created_by_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiIdempotencyRecord(Base):
    """The answer to a creating API request sent with an `Idempotency-Key`, kept for a day so that a retry gets
    the same object instead of a second one. `status` is null while the first request is still running."""

    __tablename__ = "api_idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- share links ---------------------------------------------------------------------------------------


class Share(Base):
    """A link that shows one insight or dashboard to anyone who has it (`/shared/<token>`, `/embedded/<token>`),
    while it is neither revoked nor expired. Only a SHA-256 of the token is kept; the token is shown once, when
    the link is made or rotated (core/shares.py)."""

    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("slack_workspaces.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int] = mapped_column(ForeignKey("posthog_connections.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(16))  # "insight" | "dashboard"
    content_ref: Mapped[str] = mapped_column(String(64))  # numeric id or short id, as PostHog knows it
    title: Mapped[str] = mapped_column(String(400), default="")  # last known name, for lists
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    # After a rotation the old token keeps working until `previous_valid_until` (SHARE_ROTATION_GRACE_SECONDS).
    previous_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    previous_valid_until: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))  # "scrypt$salt$hash", None: no password
    allowed_origins: Mapped[list] = mapped_column(default=list)  # who may frame /embedded; empty: anyone
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by_slack_user: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    connection: Mapped[PostHogConnection] = relationship()


# --- audit trail -------------------------------------------------------------------------------------------


class AuditEvent(Base):
    """One change to a subscription, connection or API key: who made it, through which door and from where,
    when, and what changed (core/audit.py records them as the changes are flushed). Kept as long as the
    workspace; `workspace_id` is not a foreign key so that the trail of a deleted object stays readable."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    workspace_id: Mapped[int | None] = mapped_column(Integer, index=True)
    object_type: Mapped[str] = mapped_column(String(32))  # "subscription", "connection", "api_key"
    object_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))  # "created", "changed", "paused", "resumed", "deleted"...
    changes: Mapped[dict] = mapped_column(default=dict)  # column -> [before, after], secrets left out
    actor: Mapped[str] = mapped_column(String(255))  # "slack:U123", "api:ci (phe_ab12cd)", "cli:alice", "system"
    door: Mapped[str] = mapped_column(String(16))  # "slack", "api", "cli", "email", "scheduler"
    origin: Mapped[str] = mapped_column(String(255), default="")  # where from: workspace, address, host

    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)
