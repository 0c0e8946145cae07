"""The one way into PostHog content: which content (`ContentRef`), opening a stored connection, fetching, and
setting a connection up (address rules and the key check).

Every door (the scheduler, Slack, the command line, later the API and exports) fetches through `fetch`, so the
insight-or-dashboard distinction, the time budgets and the private-address rule are written once.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.date_ranges import DateRange
from core.models import PostHogConnection
from core.outbound import refusal
from core.settings import Settings

from .client import PostHogClient, normalize_host
from .content import Dashboard, Insight
from .data import DataQuery, RowPage, data_pages
from .demo import DEMO_BASE_URL, DemoProject, is_demo_host
from .errors import PostHogError, PostHogUnavailable

ContentSource = PostHogClient | DemoProject
ContentKind = Literal["insight", "dashboard"]

# A person waiting in Slack gets PostHog's answer within this, or a clear "try again"; the scheduler has the
# settings' longer budget and retries.
INTERACTIVE_TIMEOUT_SECONDS = 20.0
# Slack waits 3 seconds for a modal's answer; checking a new key must fit inside.
CHECK_ACCESS_SECONDS = 2.5


@dataclass(frozen=True, slots=True)
class ContentRef:
    """Which content, from which connection, drawn how. Equal refs are fetched and rendered once per run."""

    connection_id: int
    kind: ContentKind
    ref: str  # numeric id, or an insight's short id, as PostHog knows it
    width: int | None = None  # image width in CSS pixels (None: the renderer's default)
    date_from: str | None = None  # the period shown (a subscription's DateRange); None: the content's own
    date_to: str | None = None
    attach: str | None = None  # a file of the data made with the images: csv | xlsx | pdf
    time_zone: str | None = None  # IANA zone the images state times in (the subscription's); None: UTC
    theme: str = "light"  # light | dark: the images' theme

    @property
    def date_range(self) -> DateRange | None:
        return DateRange.from_fields({"date_from": self.date_from, "date_to": self.date_to})


def open_source(
    *,
    host: str | None,
    project_id: int | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 4,
    allow_private_hosts: bool = False,
    max_response_bytes: int | None = None,
) -> ContentSource:
    """A client for a PostHog host, or the bundled demo project when `host` is empty or "demo"."""
    if is_demo_host(host):
        return DemoProject()
    assert host is not None
    if project_id is None or not api_key:
        raise ValueError("A PostHog connection needs a project id and a personal API key.")
    return PostHogClient(host, project_id, api_key, timeout=timeout, max_retries=max_retries,
                         allow_private_hosts=allow_private_hosts, max_response_bytes=max_response_bytes)


def open_connection(connection: PostHogConnection, settings: Settings, *, interactive: bool = False) -> ContentSource:
    """The client of a stored connection. Interactive use (a person is waiting) tries PostHog briefly."""
    return open_source(
        host=connection.host,
        project_id=connection.project_id,
        api_key=connection.api_key,
        timeout=min(settings.posthog_timeout_seconds, INTERACTIVE_TIMEOUT_SECONDS) if interactive
        else settings.posthog_timeout_seconds,
        max_retries=1 if interactive else settings.posthog_max_retries,
        allow_private_hosts=may_use_private_address(connection.host, settings),
        max_response_bytes=settings.posthog_max_response_bytes,
    )


def may_use_private_address(host: str | None, settings: Settings) -> bool:
    """Private addresses are for the operator's own PostHog (POSTHOG_HOST, or any with
    POSTHOG_ALLOW_PRIVATE_HOSTS); a host a workspace member typed must be public."""
    if settings.posthog_allow_private_hosts:
        return True
    return bool(host and settings.posthog_host and not is_demo_host(settings.posthog_host)
                and normalize_host(host) == normalize_host(settings.posthog_host))


def configured_connection(settings: Settings) -> PostHogConnection:
    """The operator's default connection from the settings (not stored): the demo project when no host is set."""
    if is_demo_host(settings.posthog_host):
        return PostHogConnection(name="Demo project", host="demo", project_id=1, api_key=None)
    return PostHogConnection(
        name="PostHog", host=normalize_host(settings.posthog_host), project_id=settings.posthog_project_id or 1,
        api_key=settings.posthog_api_key or None,
    )


async def operator_connection(session: AsyncSession, settings: Settings) -> PostHogConnection:
    """The stored connection of the operator's configured PostHog (POSTHOG_HOST...), for subscriptions made from
    the command line: created on first use, its key kept in step with the settings."""
    configured = configured_connection(settings)
    found = await session.scalar(
        select(PostHogConnection).where(
            PostHogConnection.workspace_id.is_(None),
            PostHogConnection.host == configured.host,
            PostHogConnection.project_id == configured.project_id,
        )
    )
    if found is None:
        session.add(configured)
        await session.flush()
        return configured
    if configured.api_key and found.api_key != configured.api_key:
        found.api_key = configured.api_key
    return found


async def fetch(
    connection: PostHogConnection,
    kind: str,
    ref: int | str,
    settings: Settings,
    *,
    interactive: bool = False,
    date_range: DateRange | None = None,
) -> Insight | Dashboard:
    """The insight or dashboard `ref` of `connection`, normalized. Raises PostHogError subclasses with messages
    meant for people (and PostHogUnavailable when an interactive fetch runs out of time). A `date_range`
    replaces the content's own (PostHog's `filters_override`), and the content says it."""
    if kind not in ("insight", "dashboard"):
        raise ValueError(f"content kind must be insight or dashboard, not {kind!r}")
    if kind == "dashboard" and not (str(ref).isascii() and str(ref).isdigit()):
        raise PostHogError(f"A dashboard id is a number, not {str(ref)[:40]!r}.")
    budget = 60.0 if interactive else None
    async with open_connection(connection, settings, interactive=interactive) as source:
        override = date_range.filters_override() if date_range is not None else None
        request = (
            source.get_dashboard(int(ref), filters_override=override) if kind == "dashboard"
            else source.get_insight(ref, filters_override=override)
        )
        try:
            return await asyncio.wait_for(request, budget)
        except TimeoutError:
            raise PostHogUnavailable(
                f"PostHog took too long to answer for {kind} {ref}. Try again in a minute."
            ) from None


async def data_pages_for(
    connection: PostHogConnection,
    query: DataQuery,
    settings: Settings,
    *,
    start_at: int = 0,
    now: datetime | None = None,
) -> AsyncIterator[RowPage]:
    """Raw data of `connection` (events, persons, a cohort's members, groups) page by page, the settings'
    `export_page_size` rows at a time, from row `start_at` on (to resume an interrupted export; pass the same
    `now` to pin relative dates to the same moment). Each page is retried by the client on its own; errors are
    PostHogError subclasses with messages for people (InvalidDataQuery for a query that cannot be asked). The
    connection is closed when the pages end or the iterator is closed (`aclose()`)."""
    query.validate()
    async with open_connection(connection, settings) as source:
        async for page in data_pages(
            source, query, page_size=settings.export_page_size, start_at=start_at, now=now
        ):
            yield page


def content_url(connection: PostHogConnection, kind: str, ref: int | str) -> str:
    """Where a person opens this content in PostHog, without fetching it ("" when the ref cannot make a link:
    PostHog links insights by short id)."""
    base = DEMO_BASE_URL if is_demo_host(connection.host) else normalize_host(connection.host)
    if kind == "dashboard":
        return f"{base}/project/{connection.project_id}/dashboard/{ref}"
    if str(ref).isdigit():
        return ""
    return f"{base}/project/{connection.project_id}/insights/{ref}"


# --- whose connection --------------------------------------------------------------------------------------


def _owned_by(workspace_id: int | None):
    return (PostHogConnection.workspace_id.is_(None) if workspace_id is None
            else PostHogConnection.workspace_id == workspace_id)


async def connections_of(session: AsyncSession, workspace_id: int | None) -> list[PostHogConnection]:
    """A workspace's connections, or with None the operator's (the command line's), oldest first."""
    return list((await session.scalars(
        select(PostHogConnection).where(_owned_by(workspace_id)).order_by(PostHogConnection.id)
    )).all())


async def find_connection(session: AsyncSession, workspace_id: int | None, connection_id: int
                          ) -> PostHogConnection | None:
    """The workspace's connection with this id; None for another workspace's, exactly as for an unknown id."""
    if not 0 < connection_id < 2**31:
        return None
    return await session.scalar(
        select(PostHogConnection).where(PostHogConnection.id == connection_id, _owned_by(workspace_id))
    )


# --- setting a connection up -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedConnection:
    host: str
    project_id: int
    api_key: str
    name: str  # the project's name in PostHog


async def check_connection(
    host: str, project_text: str, api_key: str, settings: Settings
) -> CheckedConnection | dict[str, str]:
    """Validate what a person typed to connect a PostHog project and check the key against PostHog. Returns the
    checked connection, or errors by field ("host", "project_id", "api_key") meant for that person."""
    host, project_text, api_key = host.strip(), project_text.strip(), api_key.strip()
    errors: dict[str, str] = {}
    if not host or " " in host or "." not in host and "localhost" not in host and "127.0.0.1" not in host:
        errors["host"] = "Enter your PostHog address, e.g. https://us.posthog.com"
    if not (project_text.isascii() and project_text.isdigit()) or len(project_text) > 18 or int(project_text) == 0:
        errors["project_id"] = "Enter the project's number, e.g. 12345 (from /project/12345 in PostHog)"
    if not api_key or " " in api_key:
        errors["api_key"] = "Paste a personal API key (it starts with phx_)"
    if errors:
        return errors
    host = normalize_host(host)
    if not settings.posthog_allow_private_hosts:
        problem = await private_host_problem(host)
        if problem:
            return {"host": problem}
    project_id = int(project_text)
    source = open_source(host=host, project_id=project_id, api_key=api_key, timeout=CHECK_ACCESS_SECONDS,
                         max_retries=0, allow_private_hosts=settings.posthog_allow_private_hosts,
                         max_response_bytes=settings.posthog_max_response_bytes)
    try:
        async with source:
            name = await asyncio.wait_for(source.check_access(), CHECK_ACCESS_SECONDS)
    except TimeoutError:
        return {"host": f"{host} did not answer within {CHECK_ACCESS_SECONDS:g} seconds. Check the address."}
    except PostHogError as exc:
        field = "project_id" if exc.status == 404 else "api_key" if exc.status in (401, 403) else "host"
        return {field: str(exc)[:150]}
    return CheckedConnection(host, project_id, api_key, name)


async def save_connection(
    session: AsyncSession, checked: CheckedConnection, *, workspace_id: int | None, created_by: str = ""
) -> PostHogConnection:
    """Store a checked connection for a workspace, replacing the key of the same project on the same host."""
    connection = await session.scalar(
        select(PostHogConnection).where(
            PostHogConnection.workspace_id == workspace_id,
            PostHogConnection.host == checked.host,
            PostHogConnection.project_id == checked.project_id,
        )
    )
    if connection is None:
        connection = PostHogConnection(workspace_id=workspace_id, host=checked.host, project_id=checked.project_id)
        session.add(connection)
    connection.name = checked.name[:255]
    connection.api_key = checked.api_key
    connection.created_by = created_by
    return connection


async def private_host_problem(host: str) -> str | None:
    """Why `host` may not be used: it resolves to an address that is not on the public internet (loopback,
    private, link-local: this server's own network), or it does not resolve. None when it is public.

    This tells the person connecting at once; every later request is checked again as it connects
    (`core.outbound`), so a name whose DNS changes to an internal address is refused then."""
    try:
        parts = urlsplit(host)
        name, port = parts.hostname, parts.port or 443
    except ValueError:  # a port that is not a number
        return "Enter your PostHog address, e.g. https://us.posthog.com"
    if not name:
        return "Enter your PostHog address, e.g. https://us.posthog.com"
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM), 1.0
        )
    except (OSError, TimeoutError, UnicodeError):
        return f"I couldn't find {name}. Check the address."
    for info in infos:
        reason = refusal(info[4][0])
        if reason:
            return f"{name} resolves to {reason}. Use your PostHog's public address."
    return None
