"""`api-keys`: make, list and revoke API keys from the command line.

    api-keys create --workspace T0123 --name ci [--read-only] [--owner ada@acme.com]
    api-keys create --name reporting        (no --workspace: the operator's own subscriptions and connections,
                                             those `subscriptions add` and `demo` make)
    api-keys list [--workspace T0123]
    api-keys revoke phe_AbCdEfGh|NAME [--workspace T0123]

The secret is printed once, on creation; only its hash is kept. Like Slack's `/posthog api-key`, a door onto
core/api_keys.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from core import api_keys
from core.db import Database
from core.settings import Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("api-keys", help="create, list or revoke keys of the REST API (/api/v1)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new key, printed once")
    create.add_argument("--name", required=True, help="what uses it, e.g. ci")
    create.add_argument("--read-only", action="store_true", help="may read, not change anything")
    create.add_argument("--owner", default=None, metavar="ADDRESS",
                        help="who is told when a subscription made with the key pauses")
    listing = actions.add_parser("list", help="live keys: name, prefix, scope, last used")
    revoke = actions.add_parser("revoke", help="revoke a key: refused from its next request on")
    revoke.add_argument("key", help="its prefix (phe_...) or its name")
    for action in (create, listing, revoke):
        action.add_argument("--workspace", default=None, metavar="TEAM_ID",
                            help="the Slack workspace's id (T0123...); default: the operator's own")
    parser.set_defaults(func=lambda args: asyncio.run(run(args)))


async def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            workspace = await api_keys.workspace_by_team(session, args.workspace) if args.workspace else None
            workspace_id = workspace.id if workspace else None
            scope = f"workspace {workspace.team_id} ({workspace.name})" if workspace else "the operator"
            if args.action == "create":
                made = await api_keys.create_api_key(session, workspace_id=workspace_id, name=args.name,
                                                     read_only=args.read_only, created_by_email=args.owner)
                print(f"API key “{made.key.name}” for {scope}{' (read-only)' if made.key.read_only else ''}:\n\n"
                      f"  {made.secret}\n\nKeep it now: it is not shown again. Use it as "
                      "`Authorization: Bearer <key>`.")
            elif args.action == "list":
                keys = await api_keys.list_api_keys(session, workspace_id)
                print(format_keys(keys, scope))
            else:
                key = await api_keys.revoke_api_key(session, workspace_id, args.key)
                print(f"Revoked the API key “{key.name}” ({key.prefix}…). It is refused from its next request on.")
    except api_keys.ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await database.dispose()
    return 0


def format_keys(keys, scope: str) -> str:
    if not keys:
        return f"No API keys for {scope}. Make one with `api-keys create --name NAME`."
    lines = [f"API keys of {scope}:"]
    for key in keys:
        used = f"last used {key.last_used_at:%Y-%m-%d %H:%M} UTC" if key.last_used_at else "never used"
        lines.append(f"  {key.prefix}…  {key.name}{'  (read-only)' if key.read_only else ''}  — "
                     f"made {key.created_at:%Y-%m-%d}, {used}")
    return "\n".join(lines)
