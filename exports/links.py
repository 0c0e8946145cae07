"""Signed download links of exported files kept in the local folder: `{PUBLIC_URL}/exports/download/<token>`.

The token is the whole authorisation (people open these links from Slack or email, without a login), so it is
signed with a purpose of its own (a token made for unsubscribing is worthless here), names exactly one file (the
asset id when known, and the storage key), and carries its own expiry: an expired link is recognised as such
without the database, and no edit of the token can extend it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.settings import Settings
from core.tokens import sign, verify

PURPOSE = "export-download/v1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class DownloadToken:
    asset_id: int | None  # None: the link was made from the storage key alone
    storage_key: str
    expires_at: datetime  # UTC, to the second
    filename: str | None = None  # the name the download is saved under; None: the key's last part

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= _now(now)


def _now(now: datetime | float | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, int | float):
        return datetime.fromtimestamp(now, UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _timestamp(moment: datetime | float) -> int:
    if isinstance(moment, int | float):
        return int(moment)
    return int((moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp())


def download_token(asset_id: int | None, storage_key: str, expires_at: datetime | float, settings: Settings,
                   *, filename: str | None = None) -> str:
    """A token that downloads the file stored under `storage_key` (of asset `asset_id`) until `expires_at`
    (an aware datetime, or seconds since the epoch), saved as `filename` (default: the key's last part)."""
    if not storage_key or "\n" in storage_key:
        raise ValueError("a download token names one storage key")
    identifier = "" if asset_id is None else str(int(asset_id))
    name = _CONTROL.sub("", filename or "")
    return sign(PURPOSE, f"{identifier}\n{storage_key}\n{_timestamp(expires_at)}\n{name}", settings=settings)


def parse_download_token(token: str, settings: Settings) -> DownloadToken | None:
    """What a genuine download token names, expired or not; None for anything else (never raises)."""
    payload = verify(PURPOSE, token, settings=settings)
    if payload is None or payload.count("\n") != 3:
        return None
    identifier, key, expires, filename = payload.split("\n")
    try:
        asset_id = int(identifier) if identifier else None
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return DownloadToken(asset_id, key, expires_at, filename or None) if key else None


def read_download_token(token: str, settings: Settings, now: datetime | float | None = None,
                        ) -> tuple[int | None, str] | None:
    """(asset id, storage key) of a genuine download token that has not expired at `now`, else None."""
    parsed = parse_download_token(token, settings)
    if parsed is None or parsed.expired(now):
        return None
    return parsed.asset_id, parsed.storage_key


def download_url(asset_id: int | None, storage_key: str, expires_at: datetime | float, settings: Settings,
                 *, filename: str | None = None) -> str:
    """The link people click: our own server's download route with a signed token."""
    token = download_token(asset_id, storage_key, expires_at, settings, filename=filename)
    return f"{settings.public_url.rstrip('/')}/exports/download/{token}"
