"""Signed tokens for links that act without a login: unsubscribe links in emails, their undo buttons, export
downloads (exports/links.py).

A token is `base64url(payload) "." base64url(HMAC-SHA256(purpose, payload))`. The HMAC key is derived from
SECRET_KEY with its own label, so it never equals the key that encrypts secrets at rest. Every configured key
verifies (the first signs), so rotating SECRET_KEY keeps old links working. A token expires only if its payload
says so: unsubscribe links never do (they must work for as long as the email sits in an inbox); undo and
download links carry their expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from core.crypto import load_secret_keys
from core.settings import Settings

UNSUBSCRIBE = "unsubscribe/v1"
UNDO = "unsubscribe-undo/v1"
_MAX_TOKEN_LENGTH = 4096  # no legitimate token is near this; longer input is refused before any work


def _derived_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"posthog-exports:signed-links", hashlib.sha256).digest()


def _mac(key: bytes, purpose: str, payload: bytes) -> bytes:
    # The purpose is part of the signed message: a token made for one use is worthless for another.
    return hmac.new(key, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _keys(settings: Settings) -> list[bytes]:
    return [_derived_key(k) for k in load_secret_keys(settings.secret_key, settings.generated_key_file)]


def sign(purpose: str, payload: str, *, settings: Settings) -> str:
    data = payload.encode()
    return f"{_b64encode(data)}.{_b64encode(_mac(_keys(settings)[0], purpose, data))}"


def verify(purpose: str, token: str, *, settings: Settings) -> str | None:
    """The payload of a genuine token for `purpose`, or None for anything else (never raises)."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload = _b64decode(encoded_payload)
        mac = _b64decode(encoded_mac)
        # Only the canonical spelling is accepted: one token per payload, no malleable padding bits.
        if _b64encode(payload) != encoded_payload or _b64encode(mac) != encoded_mac:
            return None
        text = payload.decode()
    except (binascii.Error, ValueError, UnicodeError):
        return None
    matches = [hmac.compare_digest(_mac(key, purpose, payload), mac) for key in _keys(settings)]
    return text if any(matches) else None


# --- unsubscribe links ---------------------------------------------------------------------------------


def unsubscribe_token(subscription_ids: int | list[int], address: str, *, settings: Settings) -> str:
    """A token that removes `address` from these subscriptions (one, or every one of a digest email)."""
    ids = sorted({subscription_ids} if isinstance(subscription_ids, int) else set(subscription_ids))
    if not ids:
        raise ValueError("an unsubscribe token needs at least one subscription")
    return sign(UNSUBSCRIBE, f"{','.join(map(str, ids))}\n{address}", settings=settings)


def read_unsubscribe_token(token: str, *, settings: Settings) -> tuple[list[int], str] | None:
    """(subscription ids, address) of a genuine unsubscribe token, or None."""
    payload = verify(UNSUBSCRIBE, token, settings=settings)
    if payload is None or "\n" not in payload:
        return None
    ids_text, address = payload.split("\n", 1)
    try:
        ids = [int(part) for part in ids_text.split(",")]
    except ValueError:
        return None
    if not ids or not address:
        return None
    return ids, address


UNDO_SECONDS = 3600  # an undo button works for an hour after the unsubscribe it belongs to


def undo_token(subscription_ids: list[int], address: str, *, now: float | None = None,
               settings: Settings) -> str:
    """A token that puts `address` back on exactly the subscriptions an unsubscribe just removed it from.

    Unlike unsubscribe links it expires, and it is only handed out by the page that did the removal, so an old
    email's link cannot add back someone whom the subscription's owner removed."""
    expires = int((now if now is not None else time.time()) + UNDO_SECONDS)
    ids = ",".join(map(str, sorted(set(subscription_ids))))
    return sign(UNDO, f"{ids}\n{address}\n{expires}", settings=settings)


def read_undo_token(token: str, *, now: float | None = None,
                    settings: Settings) -> tuple[list[int], str] | None:
    """(subscription ids, address) of a genuine, unexpired undo token, or None."""
    payload = verify(UNDO, token, settings=settings)
    if payload is None or payload.count("\n") != 2:
        return None
    ids_text, address, expires = payload.split("\n")
    try:
        ids = [int(part) for part in ids_text.split(",")]
        if int(expires) < (now if now is not None else time.time()):
            return None
    except ValueError:
        return None
    return (ids, address) if ids and address else None
