"""Unsubscribe without logging in: `/unsubscribe/<token>` (RFC 8058 one-click included).

GET only shows a confirmation page, because mail scanners open links; POST (the page's button, or a mail
client's `List-Unsubscribe=One-Click` request) removes the recipient and offers an undo button.
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from core.audit import Actor, acting_as
from core.db import Database
from core.settings import Settings
from core.tokens import read_undo_token, read_unsubscribe_token, undo_token
from mail.compose import environment
from mail.unsubscribe import Found, look_up, remove_recipient, restore_recipient

log = logging.getLogger(__name__)

DATABASE_KEY = web.AppKey("mail_unsubscribe_database", Database)
SETTINGS_KEY = web.AppKey("mail_unsubscribe_settings", object)


def _page(status: int, heading: str, *lines: str, **context) -> web.Response:
    html = environment.get_template("unsubscribe_page.html").render(heading=heading, lines=lines, **context)
    return web.Response(
        status=status,
        text=html,
        content_type="text/html",
        # The token in the URL is a credential: keep it out of caches, search engines and Referer headers.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"},
    )


def _invalid() -> web.Response:
    return _page(
        400,
        "This unsubscribe link is not valid",
        "The link may have been cut off or changed when it was copied. Open it again from the email, or use the "
        "“Unsubscribe” link at the bottom of a more recent email.",
    )


def _gone() -> web.Response:
    return _page(
        404,
        "This subscription no longer exists",
        "It was deleted, so you will not receive it any more. There is nothing else to do.",
    )


def _unavailable() -> web.Response:
    return _page(503, "Please try again in a minute", "We could not reach our database. Nothing was changed.")


def _already_unsubscribed(address: str, found: list[Found]) -> web.Response:
    return _page(200, "You are already unsubscribed", f"{address} does not receive {_names(found)}.",
                 subscriptions=found)


def _names(found: list[Found]) -> str:
    return "this report" if len(found) == 1 else f"these {len(found)} reports"


def _base_path(request: web.Request) -> str:
    return f"/unsubscribe/{request.match_info['token']}"


async def _read(request: web.Request) -> tuple[list[int], str] | None:
    return read_unsubscribe_token(request.match_info["token"], settings=request.app.get(SETTINGS_KEY))


async def confirm(request: web.Request) -> web.Response:
    token = await _read(request)
    if token is None:
        return _invalid()
    ids, address = token
    try:
        found = await look_up(request.app[DATABASE_KEY], ids, address)
    except SQLAlchemyError:
        log.exception("unsubscribe page: database error")
        return _unavailable()
    if not found:
        return _gone()
    if not any(f.subscribed for f in found):
        return _already_unsubscribed(address, found)
    return _page(
        200,
        "Unsubscribe from PostHog reports?",
        f"{address} will stop receiving {_names(found)} by email:",
        subscriptions=found,
        action=_base_path(request),
        button="Unsubscribe",
        button_class="",
    )


async def unsubscribe(request: web.Request) -> web.Response:
    # Form posts and RFC 8058 one-click bodies ("List-Unsubscribe=One-Click") are treated alike: the signed
    # token is the whole authorisation, so the body is read only to drain it.
    await request.read()
    token = await _read(request)
    if token is None:
        return _invalid()
    ids, address = token
    try:
        with acting_as(Actor("email", address, "the unsubscribe link")):
            found, removed = await remove_recipient(request.app[DATABASE_KEY], ids, address)
    except SQLAlchemyError:
        log.exception("unsubscribe: database error")
        return _unavailable()
    if not found:
        return _gone()
    if not removed:
        return _already_unsubscribed(address, found)
    # The undo button carries a token of its own: it expires, and it names only what this click removed.
    return _page(
        200,
        "You are unsubscribed",
        f"{address} will no longer receive {_names(found)}:",
        subscriptions=found,
        action=f"{_base_path(request)}/undo",
        hidden={"undo": undo_token(removed, address, settings=request.app.get(SETTINGS_KEY))},
        button="Undo",
        button_class="secondary",
        note="Clicked by mistake? Undo puts you back on the list (for the next hour).",
    )


async def undo(request: web.Request) -> web.Response:
    form = await request.post()
    token = await _read(request)
    if token is None:
        return _invalid()
    ids, address = token
    undo = read_undo_token(str(form.get("undo", "")), settings=request.app.get(SETTINGS_KEY))
    if undo is None or undo[1] != address:
        return _page(
            400,
            "This undo button has expired",
            "Undo works for an hour after you unsubscribe. To receive the report again, ask the person who set it "
            "up to add you back.",
        )
    try:
        with acting_as(Actor("email", address, "the unsubscribe link")):
            found = await restore_recipient(request.app[DATABASE_KEY], [i for i in undo[0] if i in ids], address)
    except SQLAlchemyError:
        log.exception("unsubscribe undo: database error")
        return _unavailable()
    if not found:
        return _gone()
    return _page(
        200,
        "You are subscribed again",
        f"{address} will keep receiving {_names(found)}:",
        subscriptions=found,
        action=_base_path(request),
        button="Unsubscribe",
        button_class="secondary",
    )


def add_routes(app: web.Application, database: Database, *, settings: Settings) -> None:
    """Mount the unsubscribe pages on the service's aiohttp application."""
    app[DATABASE_KEY] = database
    app[SETTINGS_KEY] = settings
    app.router.add_get("/unsubscribe/{token}", confirm)
    app.router.add_post("/unsubscribe/{token}", unsubscribe)
    app.router.add_post("/unsubscribe/{token}/undo", undo)
