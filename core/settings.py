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
        "http://localhost:8000", description="Base URL where users reach this service (links in messages)."
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
