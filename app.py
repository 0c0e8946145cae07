"""posthog-exports: PostHog insights and dashboards delivered to Slack and email.

Entry point and command line. Each capability registers its own commands; this file only assembles them.
Run `python app.py --help` for the list.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from core.settings import get_settings

DEMO_DASHBOARD = 42
DEMO_RECIPIENT = "team@example.com"

# --- serve ---------------------------------------------------------------------------------------------


def build_web_app(settings, database, *, renderer_factory=None, heartbeat=None, renderer=None):
    """One aiohttp application holding every capability's routes. `heartbeat` gives the seconds since the
    scheduler of this process last ticked (`/readyz`); None when the process runs no scheduler. `renderer` gives
    the process's Renderer, None until it runs, for `/readyz`'s browser check; None when the process has none."""
    from aiohttp import web

    import api
    import bot
    import exports
    import mail
    import render
    from core import health, metrics
    from core.limits import RateLimiter
    from web import add_routes as add_share_pages

    app = web.Application()
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz_handler(
        database, heartbeat=heartbeat, poll_seconds=settings.scheduler_poll_seconds,
        renderer=renderer, grid_url=settings.selenium_grid_url))
    app.router.add_get("/metrics", metrics.metrics_handler)
    render.add_routes(app)
    mail.add_routes(app, database, settings=settings)
    exports.add_routes(app, database, exports.make_storage(settings), settings)
    # One set of fair limits for the process: a person's budget is the same whichever door they use.
    limits = RateLimiter.from_settings(settings)
    bot.add_routes(app, database=database, settings=settings, renderer_factory=renderer_factory, limits=limits)
    api.add_routes(app, database, settings, limits=limits)
    # Share links, embeds, the signed-in viewer and the landing page; `.png` forms borrow the service's renderer.
    add_share_pages(app, database, settings, renderer_factory=renderer_factory, limits=limits)
    return app


async def serve(host: str, port: int, *, with_scheduler: bool = True) -> int:
    """The web service, with the renderer and the scheduler on the same event loop, until SIGTERM/SIGINT."""
    from aiohttp import web

    from core.db import Database
    from core.migrations import require_current
    from render import Renderer
    from scheduler.assembly import scheduler_service

    settings = get_settings()
    await asyncio.to_thread(require_current, settings.database_url)
    database = Database(settings.database_url)
    shared: dict = {}  # "renderer", and "service" once the scheduler runs

    @contextlib.asynccontextmanager
    async def shared_renderer():
        # Slack previews borrow the service's renderer (and its warm browsers) instead of starting their own.
        yield shared["renderer"]

    def heartbeat() -> float | None:
        return shared["service"].heartbeat.age() if "service" in shared else None

    app = build_web_app(settings, database, renderer_factory=shared_renderer,
                        heartbeat=heartbeat if with_scheduler else None, renderer=lambda: shared.get("renderer"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logging.getLogger("app").info("listening on http://%s:%d", host, port)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    # Browsers reach the exporter pages where the site listens (loopback when it listens on every address), unless
    # RENDER_PAGE_BASE_URL names an address for browsers elsewhere (a Selenium Grid's nodes). Pages live in this
    # process's memory, so PUBLIC_URL, which may lead to another `serve`, is never the answer.
    bound_port = site._server.sockets[0].getsockname()[1]  # the real port, also when PORT=0
    browser_host = "127.0.0.1" if host in ("", "0.0.0.0", "::", "localhost") else host
    base_url = f"http://{browser_host}:{bound_port}"
    try:
        async with Renderer(settings, app=app, base_url=base_url) as renderer:
            shared["renderer"] = renderer
            if with_scheduler:
                async with scheduler_service(settings, database, renderer=renderer) as service:
                    shared["service"] = service
                    service.start()
                    await stop.wait()
                    await service.stop(timeout=settings.shutdown_timeout_seconds)
            else:
                await stop.wait()
    finally:
        await runner.cleanup()
        await database.dispose()
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    return asyncio.run(serve(args.host or settings.host, args.port or settings.port))


def _register_serve(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the web service (Slack, the API, exporter pages, unsubscribe)")
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
    """Migrate, connect the demo project, subscribe a team to dashboard 42 and deliver it once to the outbox."""
    from core import migrations
    from core.db import Database
    from core.schedule_phrases import parse_schedule
    from core.subscriptions import demo_connection, find_or_create_email_subscription, schedule_of
    from posthog_api import fetch
    from scheduler.cli import deliver_subscription_now
    from scheduler.history import format_history

    settings = get_settings()
    print(f"Database: {settings.database_url}")
    await asyncio.to_thread(migrations.upgrade, settings.database_url)

    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            connection = await demo_connection(session)
        dashboard = await fetch(connection, "dashboard", DEMO_DASHBOARD, settings)
        print(f"Demo project, dashboard {dashboard.id} '{dashboard.name}': {len(dashboard.tiles)} tiles")
        async with database.transaction() as session:
            subscription, _created = await find_or_create_email_subscription(
                session,
                connection=await session.merge(connection),
                content_type="dashboard",
                content_ref=str(DEMO_DASHBOARD),
                title=dashboard.name,
                schedule=parse_schedule("weekly on monday at 9:00", "Europe/London"),
                email_recipients=[DEMO_RECIPIENT],
                created_by_email=DEMO_RECIPIENT,
            )
        print(f"Subscription {subscription.id}: {schedule_of(subscription).summary()}, to {DEMO_RECIPIENT}")
        print(f"  next scheduled delivery: {subscription.next_delivery_at:%Y-%m-%d %H:%M} UTC")
        print("Delivering it now (rendering every tile in Chromium)...")
        line = await deliver_subscription_now(settings, database, subscription.id)
    finally:
        await database.dispose()
    print(format_history([line]))
    if line.status != "succeeded":
        return 1
    if settings.email_transport == "outbox":
        newest = max(Path(settings.outbox_dir).glob("*.eml"), key=lambda p: p.stat().st_mtime, default=None)
        if newest is not None:
            print(f"The email is in {newest} (open it in any mail program).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `--help` stays fast and one broken capability names itself in the traceback.
    from api import keys_cli
    from core import cli as core_cli
    from exports import cli as exports_cli
    from render import cli as render_cli
    from scheduler import cli as scheduler_cli
    from scheduler import doctor, subscriptions_cli, workspaces
    from web import cli as shares_cli

    parser = argparse.ArgumentParser(
        prog="posthog-exports",
        description="Deliver PostHog insights and dashboards to Slack and email, rendered as images.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_serve(subparsers)
    _register_demo(subparsers)
    for module in (subscriptions_cli, shares_cli, exports_cli, keys_cli, workspaces, scheduler_cli, render_cli,
                   core_cli, doctor):
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from core.logs import configure_logging

    try:
        configure_logging(get_settings())
    except ValidationError as exc:
        # A wrong setting must not hide behind a traceback: every command but `doctor` stops and names it.
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        if (argv if argv is not None else sys.argv[1:])[:1] != ["doctor"]:
            print(f"error: invalid settings: {problems}. `python app.py doctor` checks them all.", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from core.audit import acting_as, command_line_actor
    from core.migrations import DatabaseNotMigrated

    try:
        # What a command changes is recorded as the operator's; the doors `serve` opens say who acts themselves.
        with acting_as(command_line_actor()):
            return int(args.func(args) or 0)
    except DatabaseNotMigrated as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
