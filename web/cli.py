"""`shares`: make, list, rotate and revoke share links from the command line.

    shares create dashboard 42 [--password PW] [--origin https://intranet.acme.com] [--expires-days 30]
    shares list [--all] [--json]
    shares rotate ID
    shares revoke ID

Like Slack and the API, this is a door onto core/shares.py. Links made here show content of the operator's PostHog
connection (POSTHOG_HOST...; the bundled demo project when none is set) and are listed here only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta

from core import shares
from core.db import Database
from core.models import utcnow
from core.settings import Settings, get_settings
from posthog_api import InvalidReference, PostHogError, fetch, operator_connection, parse_posthog_reference


class UsageError(Exception):
    """A mistake in what was asked; `str()` is the message."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shares", help="make, list, rotate or revoke share links (a page and an embed anyone with the link opens)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new link to an insight or a dashboard; its token is shown once")
    create.add_argument("kind", choices=["insight", "dashboard"])
    create.add_argument("ref", help="dashboard id, insight id or short id, or a PostHog link")
    create.add_argument("--password", default=None, help="viewers are asked for it first")
    create.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                        help="an origin that may embed it, e.g. https://intranet.acme.com (repeat; default: any)")
    create.add_argument("--expires-days", type=float, default=None, metavar="DAYS", help="stop working after this")
    listing = actions.add_parser("list", help="the operator's share links")
    listing.add_argument("--all", action="store_true", help="revoked ones too")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    for verb, text in (("rotate", "a new token; the old one keeps working for SHARE_ROTATION_GRACE_SECONDS"),
                       ("revoke", "stop the link now")):
        one = actions.add_parser(verb, help=text)
        one.add_argument("id", type=int)
    parser.set_defaults(func=lambda args: asyncio.run(run(args)))


async def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    database = Database(settings.database_url)
    try:
        if args.action == "create":
            message = await create(database, settings, args)
        elif args.action == "list":
            message = await list_shares(database, include_revoked=args.all, as_json=args.json)
        else:
            message = await manage(database, settings, args.action, args.id)
    except (UsageError, shares.ShareError, PostHogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await database.dispose()
    print(message)
    return 0


def _shown(settings: Settings, made: shares.NewToken, what: str) -> str:
    links = shares.links(settings.public_url, made.token)
    return (f"{what}\n\n  {links.shared}\n\nEmbed it with:\n\n  {links.iframe(made.share.title)}\n\n"
            f"The data as JSON: {links.json}\nKeep the link now: it is not shown again.")


async def create(database: Database, settings: Settings, args: argparse.Namespace) -> str:
    try:
        link_kind, ref = parse_posthog_reference(args.ref)
    except InvalidReference as exc:
        raise UsageError(str(exc)) from None
    if link_kind is not None and link_kind != args.kind:
        raise UsageError(f"That link is to {'an' if link_kind == 'insight' else 'a'} {link_kind}, not a {args.kind}.")
    origins = shares.normalize_origins(args.origin)  # refused before PostHog is asked
    expires = utcnow() + timedelta(days=args.expires_days) if args.expires_days is not None else None
    async with database.transaction() as session:
        connection = await operator_connection(session, settings)
    content = await fetch(connection, args.kind, ref, settings, interactive=True)  # it must exist
    async with database.transaction() as session:
        made = await shares.create_share(
            session, connection=await session.merge(connection), content_type=args.kind, content_ref=str(ref),
            title=content.name, password=args.password, allowed_origins=origins, expires_at=expires,
        )
        return _shown(settings, made, f"Share link {made.share.id} to {content.name} ({args.kind} {ref}):")


async def list_shares(database: Database, *, include_revoked: bool, as_json: bool) -> str:
    async with database.session() as session:
        rows = await shares.shares_of(session, None, include_revoked=include_revoked)
    if as_json:
        return json.dumps([{
            "id": s.id, "kind": s.content_type, "ref": s.content_ref, "title": s.title, "state": shares.state(s),
            "password": s.password_hash is not None, "allowed_origins": list(s.allowed_origins or []),
            "expires_at": s.expires_at.isoformat() if s.expires_at else None,
            "created_at": s.created_at.isoformat(),
        } for s in rows], indent=2)
    if not rows:
        return "No share links. Make one with `shares create dashboard 42`."
    return "\n".join(shares.describe(s) for s in rows)


async def manage(database: Database, settings: Settings, action: str, share_id: int) -> str:
    async with database.transaction() as session:
        share = await shares.find_share(session, None, share_id)
        if share is None:
            raise UsageError(f"Share link {share_id} does not exist. `shares list` shows them.")
        if action == "revoke":
            if not shares.revoke(share):
                return f"Share link {share.id} was already revoked."
            return f"Share link {share.id} revoked: it answers “not found” from now on."
        made = shares.rotate(share, grace_seconds=settings.share_rotation_grace_seconds)
        grace = settings.share_rotation_grace_seconds
        return _shown(settings, made, f"Share link {share.id} has a new token; the old one works for {grace:g} more "
                      "seconds:")
