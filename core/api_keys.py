"""API keys: made, listed and revoked from Slack and the command line; checked by the REST API on every request.

A key is `phe_` and 43 random URL-safe characters (256 bits). The recognisable prefix lets secret scanners find
a leaked key, and core/logs.py redacts it. Only a SHA-256 of the whole secret is stored: with that much entropy
no slow hash or pepper is needed, and a database dump gives nobody a working key. The secret is shown once, when
the key is made. A key belongs to one workspace, or with no workspace to the operator (the command line's own
subscriptions and connections). A read-only key may read but not change anything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import ApiKey, SlackWorkspace, utcnow

PREFIX = "phe_"
SHOWN_CHARACTERS = 12  # "phe_" and 8 characters of the secret: what lists show and `revoke` accepts
MAX_NAME = 100
MAX_KEYS = 50  # live keys per workspace
# Writing "last used" on every request would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key that cannot be made or found as asked; `str()` is the message for the person who asked."""


def check_may_manage(is_admin: bool) -> None:
    """A key reads every subscription of its workspace (email ones too, which otherwise only admins see), so in a
    workspace only its admins make, list and revoke keys. The command line is the operator's: always allowed."""
    if not is_admin:
        raise ApiKeyError("Only workspace admins can manage API keys: a key reads every subscription of the "
                          "workspace. Ask an admin.")


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(text: str) -> bool:
    return text.startswith(PREFIX) and 20 < len(text) <= 200


async def workspace_by_team(session: AsyncSession, team_id: str) -> SlackWorkspace:
    """The installed workspace with this Slack team id (T0123...), for the command line's `--workspace`."""
    workspace = await session.scalar(select(SlackWorkspace).where(SlackWorkspace.team_id == team_id.strip()))
    if workspace is None or not workspace.active:
        raise ApiKeyError(f"No installed Slack workspace has the id “{team_id[:40]}”. The app must be installed "
                          "there first.")
    return workspace


async def create_api_key(
    session: AsyncSession,
    *,
    workspace_id: int | None,
    name: str,
    read_only: bool = False,
    created_by_slack_user: str | None = None,
    created_by_email: str | None = None,
    creator_is_admin: bool = True,
) -> NewApiKey:
    """A new key, made by an admin (`check_may_manage`). Names are unique among a workspace's live keys, so that
    `revoke NAME` means one key."""
    check_may_manage(creator_is_admin)
    name = " ".join(name.split())
    if not name:
        raise ApiKeyError("Give the key a name that says what uses it, e.g. “ci” or “reporting notebook”.")
    if len(name) > MAX_NAME:
        raise ApiKeyError(f"A key's name is at most {MAX_NAME} characters; this one has {len(name)}.")
    live = await list_api_keys(session, workspace_id)
    if any(k.name.casefold() == name.casefold() for k in live):
        raise ApiKeyError(f"A key called “{name}” already exists. Pick another name, or revoke that one first.")
    if len(live) >= MAX_KEYS:
        raise ApiKeyError(f"This workspace has {len(live)} API keys, the most it may have. Revoke unused ones.")
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        workspace_id=workspace_id, name=name, prefix=secret[:SHOWN_CHARACTERS], secret_hash=hash_secret(secret),
        read_only=read_only, created_by_slack_user=created_by_slack_user or None,
        created_by_email=created_by_email or None, created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    return NewApiKey(key, secret)


async def list_api_keys(session: AsyncSession, workspace_id: int | None, *, actor_is_admin: bool = True
                        ) -> list[ApiKey]:
    """The live (not revoked) keys of a workspace, or of the operator when `workspace_id` is None."""
    check_may_manage(actor_is_admin)
    return list((await session.scalars(
        select(ApiKey).where(_scope(workspace_id), ApiKey.revoked_at.is_(None)).order_by(ApiKey.id)
    )).all())


async def revoke_api_key(session: AsyncSession, workspace_id: int | None, which: str, *,
                         actor_is_admin: bool = True) -> ApiKey:
    """Revoke a live key of this workspace named by its prefix (as lists show it) or its name. It is refused on
    its next request."""
    check_may_manage(actor_is_admin)
    which = " ".join(which.split())
    if not which:
        raise ApiKeyError("Which key? Give its prefix (phe_...) or its name; `list` shows them.")
    live = await list_api_keys(session, workspace_id)
    if which.startswith(PREFIX):
        # A whole secret pasted by mistake is recognised by its first characters too.
        found = [k for k in live if which[:SHOWN_CHARACTERS] == k.prefix or which == k.prefix]
    else:
        found = [k for k in live if k.name.casefold() == which.casefold()]
    if not found:
        raise ApiKeyError(f"No live API key is called “{which[:SHOWN_CHARACTERS + 20]}” here; `list` shows them.")
    key = found[0]
    key.revoked_at = utcnow()
    return key


async def authenticate(session: AsyncSession, secret: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key whose secret this is, or None (unknown, malformed, revoked, or its workspace uninstalled).
    Records when it was last used, to the minute."""
    if not looks_like_key(secret):
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret)))
    if key is None or key.revoked_at is not None:
        return None
    if key.workspace_id is not None:
        workspace = await session.get(SlackWorkspace, key.workspace_id)
        if workspace is None or not workspace.active:
            return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        key.last_used_at = now
    return key


def _scope(workspace_id: int | None):
    return ApiKey.workspace_id.is_(None) if workspace_id is None else ApiKey.workspace_id == workspace_id
