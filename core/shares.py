"""Share links: one insight or dashboard shown to anyone who has the link (`/shared/<token>`) or embedded in another
site (`/embedded/<token>`), made, listed, rotated and revoked from Slack, the command line and the API.

A token is 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: with that much entropy no slow
hash is needed, and a database dump gives nobody a working link. The token is shown once, when the link is made or
rotated. After a rotation the old token keeps working for SHARE_ROTATION_GRACE_SECONDS, so that pages already
embedded somewhere can be updated without a gap. A revoked or expired link stops working at once: every request
looks the share up here first, before any cached content is served.

An optional password is kept as a salted scrypt hash; the web pages ask for it before showing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import PostHogConnection, Share, utcnow

TOKEN_BYTES = 32  # 256 random bits, at least the 128 a link that opens without a login needs
MAX_PASSWORD = 200
MAX_ORIGINS = 20
# scrypt's cost: about 50 ms and 16 MiB per check, which makes guessing a leaked hash slow.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class ShareError(ValueError):
    """A share link that cannot be made or changed as asked; `str()` is the message for the person who asked."""


@dataclass(frozen=True)
class NewToken:
    share: Share
    token: str  # shown once, never stored


@dataclass(frozen=True)
class Links:
    shared: str  # the page for people
    embedded: str  # the page for iframes
    json: str  # the normalized content

    def iframe(self, title: str = "") -> str:
        """HTML to paste into another site. The title is escaped: it is a PostHog name, any text."""
        import html

        name = html.escape(title or "PostHog", quote=True)
        return (f'<iframe src="{html.escape(self.embedded, quote=True)}" title="{name}" width="100%" height="600" '
                'frameborder="0" loading="lazy"></iframe>')


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(text: str) -> bool:
    return 20 <= len(text) <= 100 and text.isascii() and all(c.isalnum() or c in "-_" for c in text)


def links(public_url: str, token: str) -> Links:
    base = public_url.rstrip("/")
    return Links(f"{base}/shared/{token}", f"{base}/embedded/{token}", f"{base}/shared/{token}.json")


# --- passwords -------------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(share: Share, password: str) -> bool:
    """Whether `password` opens `share` (True for a share without one)."""
    return password_matches(share.password_hash, password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed as `password_hash` (True when there is none). Takes about 50 ms of CPU:
    a web request runs it in a thread."""
    if password_hash is None:
        return True
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        return False
    try:
        _scheme, n, r, p, salt, expected = password_hash.split("$")
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def _password_hash(password: str | None) -> str | None:
    if password is None or password == "":
        return None
    if len(password) > MAX_PASSWORD:
        raise ShareError(f"A share password has at most {MAX_PASSWORD} characters.")
    return hash_password(password)


# --- origins allowed to embed ----------------------------------------------------------------------------


def normalize_origins(origins: list[str] | tuple[str, ...]) -> list[str]:
    """Origins as `scheme://host[:port]`: they go into a Content-Security-Policy header, so anything else (a path,
    a space, a semicolon) is refused rather than passed on."""
    out: list[str] = []
    for given in origins:
        text = given.strip().rstrip("/")
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = parts.hostname or ""
        if (parts.scheme not in ("http", "https") or not host or port == -1 or parts.path or parts.query
                or parts.fragment or parts.username or parts.password
                or not all(c.isalnum() or c in ".-" for c in host)):
            raise ShareError(f"“{given[:80]}” is not an origin: give one like https://intranet.acme.com "
                             "(scheme, host and an optional port; no path).")
        origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
        if origin not in out:
            out.append(origin)
    if len(out) > MAX_ORIGINS:
        raise ShareError(f"A share link may name at most {MAX_ORIGINS} origins.")
    return out


# --- the lifecycle ---------------------------------------------------------------------------------------


def _check_content(content_type: str, content_ref: str) -> None:
    if content_type not in ("insight", "dashboard"):
        raise ShareError(f"A share link shows an insight or a dashboard, not “{content_type[:20]}”.")
    if not content_ref or len(content_ref) > 64:
        raise ShareError("Say which insight or dashboard to share, e.g. dashboard 42.")
    if content_type == "dashboard" and not (content_ref.isascii() and content_ref.isdigit()):
        raise ShareError(f"Dashboards have numeric ids; “{content_ref[:40]}” is not one.")


async def create_share(
    session: AsyncSession,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    title: str = "",
    password: str | None = None,
    allowed_origins: list[str] | tuple[str, ...] = (),
    expires_at: datetime | None = None,
    created_by_slack_user: str | None = None,
    now: datetime | None = None,
) -> NewToken:
    """A new link to content of `connection`, owned by the connection's workspace (or the operator's). The doors
    check that the content exists in PostHog first and pass its name as `title`."""
    now = now or utcnow()
    content_ref = str(content_ref).strip()
    _check_content(content_type, content_ref)
    if expires_at is not None and expires_at <= now:
        raise ShareError("The expiry is in the past: give a time still to come.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = Share(
        workspace_id=connection.workspace_id, connection_id=connection.id, content_type=content_type,
        content_ref=content_ref, title=title[:400], token_hash=hash_token(token),
        password_hash=_password_hash(password), allowed_origins=normalize_origins(allowed_origins),
        expires_at=expires_at, created_by_slack_user=created_by_slack_user, created_at=now,
    )
    session.add(share)
    await session.flush()
    return NewToken(share, token)


def is_live(share: Share, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return share.revoked_at is None and (share.expires_at is None or share.expires_at > now)


def state(share: Share, now: datetime | None = None) -> str:
    """"active", "revoked" or "expired": what lists show."""
    if share.revoked_at is not None:
        return "revoked"
    return "active" if is_live(share, now) else "expired"


async def find_by_token(session: AsyncSession, token: str, *, now: datetime | None = None) -> Share | None:
    """The live share this token opens: its current token, or the one before a rotation within the grace period.
    None for anything else (unknown, revoked, expired, an old token past its grace), all alike."""
    if not isinstance(token, str) or not looks_like_token(token):
        return None
    now = now or utcnow()
    digest = hash_token(token)
    share = await session.scalar(
        select(Share).where(or_(Share.token_hash == digest, Share.previous_token_hash == digest))
    )
    if share is None or not is_live(share, now):
        return None
    if share.token_hash != digest and (share.previous_valid_until is None or share.previous_valid_until <= now):
        return None
    return share


def _owned_by(workspace_id: int | None):
    return Share.workspace_id.is_(None) if workspace_id is None else Share.workspace_id == workspace_id


async def find_share(session: AsyncSession, workspace_id: int | None, share_id: object) -> Share | None:
    """The workspace's share with this id (revoked ones too); None for another workspace's, as for an unknown id."""
    text = str(share_id).strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or not 0 < int(text[:11]) < 2**31:
        return None
    return await session.scalar(select(Share).where(Share.id == int(text), _owned_by(workspace_id)))


async def shares_of(session: AsyncSession, workspace_id: int | None, *, include_revoked: bool = False,
                    after_id: int | None = None, limit: int | None = None) -> list[Share]:
    """A workspace's shares (with None the operator's), oldest first."""
    statement = select(Share).where(_owned_by(workspace_id)).order_by(Share.id)
    if not include_revoked:
        statement = statement.where(Share.revoked_at.is_(None))
    if after_id is not None:
        statement = statement.where(Share.id > after_id)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.scalars(statement)).all())


def rotate(share: Share, *, grace_seconds: float, now: datetime | None = None) -> NewToken:
    """A new token for the share; the current one keeps working for `grace_seconds` (a token rotated before it is
    replaced at once: only one old token works at a time)."""
    if share.revoked_at is not None:
        raise ShareError(f"Share link {share.id} is revoked; make a new one instead.")
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share.previous_token_hash = share.token_hash
    share.previous_valid_until = now + timedelta(seconds=max(0.0, grace_seconds))
    share.token_hash = hash_token(token)
    return NewToken(share, token)


def revoke(share: Share, *, now: datetime | None = None) -> bool:
    """Stop the link (and an old token in its grace period) at once; False when it was already revoked."""
    if share.revoked_at is not None:
        return False
    share.revoked_at = now or utcnow()
    share.previous_valid_until = None
    return True


def describe(share: Share, now: datetime | None = None) -> str:
    """One line for lists: id, what, state, and the options that matter."""
    options = []
    if share.password_hash:
        options.append("password")
    if share.expires_at:
        options.append(f"expires {share.expires_at:%Y-%m-%d %H:%M} UTC")
    if share.allowed_origins:
        options.append("embeds on " + ", ".join(share.allowed_origins))
    extra = f" ({'; '.join(options)})" if options else ""
    name = share.title or f"{share.content_type} {share.content_ref}"
    return f"{share.id}: {name} ({share.content_type} {share.content_ref}), {state(share, now)}{extra}"
