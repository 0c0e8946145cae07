"""posthog-exports: PostHog insights and dashboards delivered to Slack and email.

Entry point and command line. Each capability registers its own commands; this file only assembles them.
Run `python app.py --help` for the list.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from core.settings import get_settings

# --- serve ---------------------------------------------------------------------------------------------


def build_web_app():
    """One aiohttp application holding every capability's routes."""
    from aiohttp import web

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    settings = get_settings()
    web.run_app(build_web_app(), host=args.host or settings.host, port=args.port or settings.port)
    return 0


def _register_serve(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the web service (Slack, exporter pages, unsubscribe)")
    serve.add_argument("--host", default=None, help="address to listen on (default: HOST)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default: PORT)")
    serve.set_defaults(func=_serve)


# --- demo ----------------------------------------------------------------------------------------------


def _register_demo(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole product once on the bundled demo project (SQLite, outbox folder)"
    )
    demo.set_defaults(func=lambda _args: asyncio.run(run_demo()))


async def run_demo() -> int:
    """Migrate, connect the demo project, subscribe to dashboard 42 and deliver it once."""
    from core import migrations
    from core.db import Database
    from core.schedule_phrases import parse_schedule
    from core.subscriptions import create_subscription, demo_connection
    from posthog_api import DemoProject

    settings = get_settings()
    print(f"Database: {settings.database_url}")
    await asyncio.to_thread(migrations.upgrade, settings.database_url)

    source = DemoProject()
    dashboard = await source.get_dashboard(42)
    print(f"Dashboard {dashboard.id} '{dashboard.name}': {len(dashboard.tiles)} tiles")
    for tile in dashboard.tiles:
        what = f"{tile.insight.kind.value:<10} {tile.insight.name}" if tile.insight else "text"
        print(f"  - [{tile.x},{tile.y} {tile.w}x{tile.h}] {what}")

    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            connection = await demo_connection(session)
            schedule = parse_schedule("weekly on monday at 9:00", "Europe/London")
            subscription = await create_subscription(
                session,
                connection=connection,
                content_type="dashboard",
                content_ref=str(dashboard.id),
                title=dashboard.name,
                schedule=schedule,
                target_type="email",
                email_recipients=["team@example.com"],
                created_by="demo",
            )
        print(f"Subscription {subscription.id}: {schedule.summary()}")
        print(f"  next delivery: {subscription.next_delivery_at:%Y-%m-%d %H:%M} UTC")
    finally:
        await database.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `--help` stays fast and one broken capability names itself in the traceback.
    from core import cli as core_cli
    from render import cli as render_cli

    parser = argparse.ArgumentParser(
        prog="posthog-exports",
        description="Deliver PostHog insights and dashboards to Slack and email, as images and files.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_serve(subparsers)
    _register_demo(subparsers)
    for module in (render_cli, core_cli):
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
