"""Every setting of the service, read from environment variables (and a `.env` file).

Each field's description is what the README's settings table shows; keep them short and concrete.
The defaults are the embedded ones: SQLite, the bundled demo PostHog project, an outbox folder.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path(os.environ.get("POSTHOG_EXPORTS_VAR_DIR", "var"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- service ---
    database_url: str = Field(
        f"sqlite+aiosqlite:///{VAR_DIR}/posthog-exports.db",
        description="SQLAlchemy URL. SQLite (aiosqlite) for a single process; "
        "`postgresql+asyncpg://user@host/db` for production and for several processes.",
    )
    secret_key: str = Field(
        "",
        description="Encrypts Slack tokens and PostHog API keys at rest and signs links. Several keys may be "
        "given comma-separated (the first encrypts, all decrypt) to rotate. Empty: a key is generated once "
        "into `var/secret.key` (fine for one machine; set it explicitly when processes share a database).",
    )
    public_url: str = Field(
        "http://localhost:8000",
        description="Base URL where this service is reachable by users (unsubscribe links, embeds, OAuth).",
    )
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, description="Port `serve` listens on (`--port` overrides).")
    log_level: str = Field("INFO", description="Python logging level.")

    # --- PostHog ---
    posthog_host: str = Field(
        "", description="PostHog instance, e.g. `https://us.posthog.com`. Empty: the bundled demo project."
    )
    posthog_project_id: int | None = Field(None, description="Project id of the default PostHog connection.")
    posthog_api_key: str = Field("", description="Personal API key of the default PostHog connection.")
    posthog_timeout_seconds: float = Field(60.0, description="Time-out of one PostHog API request.")
    posthog_max_retries: int = Field(4, description="Retries of a PostHog request on 429/5xx/network errors.")

    # --- rendering ---
    chromium_path: str = Field("/usr/bin/chromium", description="Chromium binary used for rendering.")
    chromedriver_path: str = Field("/usr/bin/chromedriver", description="ChromeDriver binary.")
    selenium_grid_url: str = Field(
        "", description="A Selenium Grid URL; when set it replaces the local browser pool."
    )
    render_pool_size: int = Field(
        0, description="Browser sessions kept warm. 0: one per CPU core, at most 4."
    )
    render_scale: float = Field(2.0, description="Device scale factor of images (1 or 2).")
    render_width: int = Field(1000, description="Default CSS width of an insight image, in pixels.")
    render_timeout_seconds: float = Field(30.0, description="Time-out of one render.")
    render_recycle_after: int = Field(200, description="Renders before a browser session is replaced.")

    # --- email ---
    email_transport: str = Field("outbox", description="`outbox` (`.eml` files), `smtp` or `ses`.")
    outbox_dir: Path = Field(Path("outbox"), description="Folder of the `outbox` transport.")
    email_from: str = Field("PostHog Reports <reports@localhost>", description="From header of emails.")
    email_reply_to: str = Field("", description="Reply-To header of emails (empty: none).")
    smtp_host: str = Field("localhost", description="SMTP server.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_username: str = Field("", description="SMTP user (empty: no authentication).")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_security: str = Field("starttls", description="`starttls`, `tls` or `none`.")
    ses_region: str = Field("us-east-1", description="AWS region of the `ses` transport.")

    # --- Slack ---
    slack_signing_secret: str = Field("", description="Slack app signing secret (verifies requests).")
    slack_client_id: str = Field("", description="Slack app client id (OAuth install).")
    slack_client_secret: str = Field("", description="Slack app client secret (OAuth install).")
    slack_app_token: str = Field("", description="App-level token for Socket Mode (local development).")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL.")

    # --- scheduler ---
    scheduler_poll_seconds: float = Field(5.0, description="How often due deliveries are claimed.")
    delivery_lease_seconds: int = Field(
        300, description="A claimed delivery whose process stops renewing it is taken over after this."
    )
    catch_up_grace_hours: float = Field(
        6.0, description="After downtime, an occurrence missed by less than this is still delivered once."
    )
    max_consecutive_failures: int = Field(
        3, description="Failed occurrences in a row after which a subscription is paused."
    )
    delivery_retention_days: int = Field(90, description="Delivery history kept for this many days.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
