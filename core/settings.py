"""Every setting of the service, read from environment variables (and a `.env` file).

Each field's description is what the README's settings table shows; keep them short and concrete.
The defaults are the embedded ones: SQLite, the bundled demo PostHog project, an outbox folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.limits import DEFAULT_PER_USER, DEFAULT_PER_WORKSPACE, budgets


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- service ---
    var_dir: Path = Field(
        Path("var"),
        validation_alias=AliasChoices("var_dir", "posthog_exports_var_dir"),
        description="Folder of the service's own files: the default SQLite database, the generated secret key "
        "and the outbox (also read from `POSTHOG_EXPORTS_VAR_DIR`).",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. SQLite (aiosqlite) for a single process; "
        "`postgresql+asyncpg://user@host/db` for production and for several processes. Empty: "
        "`sqlite+aiosqlite:///VAR_DIR/posthog-exports.db`.",
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
    log_format: Literal["text", "json"] = Field(
        "text", description="`text` (one readable line per record) or `json` (one JSON object per line)."
    )

    # --- PostHog ---
    posthog_host: str = Field(
        "", description="PostHog instance, e.g. `https://us.posthog.com`. Empty: the bundled demo project."
    )
    posthog_project_id: int | None = Field(None, description="Project id of the default PostHog connection.")
    posthog_api_key: str = Field("", description="Personal API key of the default PostHog connection.")
    posthog_timeout_seconds: float = Field(60.0, description="Time-out of one PostHog API request.")
    posthog_max_retries: int = Field(4, description="Retries of a PostHog request on 429/5xx/network errors.")
    posthog_allow_private_hosts: bool = Field(
        False, description="Let connections people make use hosts on loopback, private or link-local addresses "
        "(POSTHOG_HOST may always be private)."
    )
    posthog_max_response_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Largest PostHog answer read for one request, in bytes."
    )

    # --- fair limits (core/limits.py) ---
    rate_limits_per_user: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_PER_USER),
        description="Previews, sends now, exports and connection checks one person may ask for per window, as "
        'JSON; the actions left out keep their default, e.g. `{"preview": 10}`.',
    )
    rate_limits_per_workspace: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_PER_WORKSPACE),
        description="The same budgets for a whole workspace, as JSON.",
    )
    rate_limit_window_seconds: float = Field(60.0, gt=0, description="The window the budgets count over.")
    uninstall_retention_days: float = Field(
        30.0, ge=0, description="Days a workspace's data is kept after it removes the app (a reinstall finds it "
        "all); then its subscriptions, connections, API keys, history, exported files and audit trail are deleted."
    )

    # --- rendering ---
    chromium_path: str = Field("/usr/bin/chromium", description="Chromium binary used for rendering.")
    chromedriver_path: str = Field("/usr/bin/chromedriver", description="ChromeDriver binary.")
    selenium_grid_url: str = Field(
        "", description="A Selenium Grid URL; when set it replaces the local browser pool."
    )
    render_page_base_url: str = Field(
        "",
        description="Base URL where browsers (the local pool, or the Grid's nodes) fetch this process's exporter "
        "pages, e.g. `http://10.0.0.7`. Without a port: the port `serve` listens on; a `worker` or a command "
        "serves its pages on `HOST` at this URL's port or a free one. Empty: where `serve` listens, or a loopback "
        "port (a local pool, or a Grid on the same machine).",
    )
    render_pool_size: int = Field(
        0, description="Browser sessions kept warm. 0: one per CPU core, at most 4."
    )
    render_scale: float = Field(2.0, description="Device scale factor of images (1 or 2).")
    render_width: int = Field(1000, description="Default CSS width of an insight image, in pixels.")
    render_timeout_seconds: float = Field(30.0, description="Time-out of one render.")
    render_recycle_after: int = Field(200, description="Renders before a browser session is replaced.")

    # --- email ---
    email_transport: Literal["outbox", "smtp", "ses"] = Field(
        "outbox",
        description="How email leaves: `outbox` (`.eml` files in `OUTBOX_DIR`), `smtp` (the `SMTP_*` server) "
        "or `ses` (Amazon SES v2, credentials from the usual AWS sources).",
    )
    outbox_dir: Path | None = Field(
        None, description="Folder the `outbox` transport writes `.eml` files to. Empty: `VAR_DIR/outbox`."
    )
    email_from: str = Field(
        "PostHog Exports <reports@localhost>", description="From address of every email, e.g. `Reports <r@acme.com>`."
    )
    email_reply_to: str = Field("", description="Reply-To address. Empty: no Reply-To header.")
    smtp_host: str = Field("localhost", description="SMTP server host.")
    smtp_port: int = Field(0, description="SMTP server port. 0: 465 with `tls`, 587 with `starttls`, 25 otherwise.")
    smtp_username: str = Field("", description="SMTP user name. Empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="`starttls` (upgrade after connecting), `tls` (implicit TLS) or `none`."
    )
    smtp_timeout_seconds: float = Field(30.0, description="Time-out of one SMTP conversation step.")
    ses_region: str = Field("us-east-1", description="AWS region of Amazon SES.")
    email_max_bytes: int = Field(
        15_000_000,
        description="Largest email, in bytes. Images that would go past it become links to PostHog instead.",
    )
    email_max_tiles: int = Field(
        12, description="Dashboard tiles shown as images in an email; the rest are summed up with a link."
    )
    email_allowed_domains: str = Field(
        "",
        description="Comma-separated domains that may receive reports, e.g. `acme.com,acme.io` (their subdomains "
        "too). Empty: any domain.",
    )
    email_max_recipients: int = Field(50, description="Most email recipients one subscription may have.")
    email_digest: bool = Field(
        True, description="Combine the subscriptions due for one recipient in the same run into one email."
    )
    email_retry_attempts: int = Field(
        4, description="Attempts to send one email on temporary failures (SMTP 4xx, lost connections)."
    )
    email_retry_base_seconds: float = Field(
        2.0, description="Wait before the first retry of an email; it doubles after each attempt."
    )


    # --- Slack ---
    slack_signing_secret: str = Field(
        "", description="Signing secret of the Slack app; every request to `/slack/events` is verified with it. "
        "Empty: the Slack routes answer 503.",
    )
    slack_client_id: str = Field(
        "", description="Client ID of the Slack app (OAuth install). Empty: no `/slack/install`."
    )
    slack_client_secret: str = Field("", description="Client secret of the Slack app (OAuth install, token rotation).")
    slack_app_token: str = Field(
        "",
        description="App-level token (`xapp-...`). When set, `serve` also connects over Socket Mode "
        "(local development).",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Base URL of the Slack Web API (a stand-in in tests)."
    )

    # --- exports ---
    export_max_rows: int = Field(
        1_000_000, description="Rows one export writes at most; a longer one stops there and says so in the file."
    )
    export_page_size: int = Field(10_000, description="Rows asked of PostHog per page when exporting data.")
    export_ttl_hours: float = Field(168.0, description="Exported files are deleted this long after they are made.")
    export_storage: Literal["local", "s3"] = Field(
        "local", description="Where exported files are kept: `local` (`EXPORT_DIR`) or `s3` (`S3_*`)."
    )
    export_dir: Path | None = Field(None, description="Folder of exported files with `local` storage. Empty: "
                                    "`VAR_DIR/exports`.")
    export_slack_max_bytes: int = Field(
        50_000_000, description="Larger exports are sent to Slack as an expiring link instead of a file."
    )
    s3_bucket: str = Field("", description="S3 bucket of exported files (`EXPORT_STORAGE=s3`).")
    s3_prefix: str = Field("exports/", description="Key prefix of exported files in the bucket.")
    s3_region: str = Field("us-east-1", description="AWS region of the bucket.")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (MinIO, R2...). Empty: AWS.")
    s3_server_side_encryption: str = Field(
        "AES256", description="Server-side encryption of uploaded files: `AES256`, `aws:kms` or empty for none."
    )

    # --- scheduler ---
    scheduler_poll_seconds: float = Field(5.0, description="How often due deliveries are claimed.")
    delivery_lease_seconds: int = Field(
        300, description="A claimed delivery whose process stops renewing it is taken over after this."
    )
    catch_up_grace_hours: float = Field(
        6.0, description="After downtime, an occurrence missed by less than this is still delivered, once."
    )
    max_consecutive_failures: int = Field(
        3, description="Failed deliveries in a row after which a subscription is paused and its creator told."
    )
    delivery_retention_days: int = Field(90, description="Delivery history is kept this many days.")
    shutdown_timeout_seconds: float = Field(
        60.0, description="On SIGTERM, running deliveries get this long to finish before they are released."
    )
    metrics_port: int = Field(
        9464, description="Port of a `worker`'s own `/metrics`, `/healthz` and `/readyz` (on `HOST`). 0: off."
    )

    # --- REST API (/api/v1) ---
    api_rate_limit_per_minute: int = Field(
        120, ge=1, description="Requests one API key may make per minute (per `serve` process); past it: 429 with "
        "`Retry-After`."
    )
    api_max_body_bytes: int = Field(
        65536, ge=1024, description="Largest API request body, in bytes; larger ones are refused with 413."
    )


    # --- share links and embeds (web/) ---
    share_cache_seconds: float = Field(
        300.0, ge=0, description="How long a shared page's content from PostHog is reused (per `serve` process), "
        "so that anonymous traffic never hammers PostHog."
    )
    share_rotation_grace_seconds: float = Field(
        3600.0, ge=0, description="After a share link is rotated, its old token keeps working this long."
    )
    share_requests_per_minute: int = Field(
        120, ge=1, description="Requests one share link answers per minute (per `serve` process); past it: 429 "
        "with `Retry-After`."
    )

    # --- Sign in with Slack (web/: /view/...) ---
    slack_openid_authorize_url: str = Field(
        "https://slack.com/openid/connect/authorize",
        description="Slack's Sign in with Slack (OpenID Connect) authorize page, where `/view/...` sends people "
        "without a session (a stand-in in tests). Uses `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET`; the Slack app "
        "lists `PUBLIC_URL/signin/callback` as a redirect URL.",
    )
    signin_session_hours: float = Field(
        12.0, gt=0, description="How long a sign-in lasts before Slack is asked again."
    )

    @field_validator("render_page_base_url")
    @classmethod
    def _page_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"must be an http(s) URL such as http://worker-3.internal, not {value!r}")
        return value

    @field_validator("rate_limits_per_user", "rate_limits_per_workspace")
    @classmethod
    def _budgets(cls, value: dict[str, int], info) -> dict[str, int]:
        defaults = DEFAULT_PER_USER if info.field_name == "rate_limits_per_user" else DEFAULT_PER_WORKSPACE
        return budgets(value, defaults)

    @model_validator(mode="after")
    def _files_in_var_dir(self) -> Settings:
        # Derived here, not at import: a Settings built for a test or another process gets its own folder.
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir}/posthog-exports.db"
        if self.outbox_dir is None:
            self.outbox_dir = self.var_dir / "outbox"
        if self.export_dir is None:
            self.export_dir = self.var_dir / "exports"
        return self

    @property
    def allowed_email_domains(self) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in self.email_allowed_domains.split(",") if d.strip()]

    @property
    def generated_key_file(self) -> Path:
        return self.var_dir / "secret.key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
