"""PostHog REST client (aiohttp) with retries and user-facing errors.

Transient failures (429, 500, 502, 503, 504, connection errors, time-outs) are retried with exponential
backoff and jitter, honouring Retry-After. 401/403/404 map to specific errors at once, since retrying cannot
fix them. The API key only ever travels in the Authorization header and never appears in an error.

Currency values are shown in the project's base currency (PostHog's Team `base_currency`), read from the project
(GET /api/projects/{id}/) once per client, and only for content that shows money; USD when the project does not
say or cannot be read.

Unless private hosts are allowed, every connection goes to a public address only (`core.outbound`). Redirects
are not followed: the key would travel to wherever PostHog pointed, so a redirect is an error naming the address
to connect with instead. Answers are read up to `max_response_bytes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp

from core.outbound import outbound_connector, refused_address
from core.retry import backoff_delay, retry_after_delay

from .content import Dashboard, Insight
from .daterange import date_override
from .errors import (
    PostHogAddressNotAllowed,
    PostHogAuthError,
    PostHogError,
    PostHogNotFound,
    PostHogPayloadError,
    PostHogPermissionError,
    PostHogResponseTooLarge,
    PostHogUnavailable,
)
from .normalize import currency_code, normalize_dashboard, normalize_insight, shows_currency

log = logging.getLogger(__name__)

DEFAULT_CURRENCY = "USD"  # PostHog's base currency for a project that has not chosen one
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0  # never let a server park a delivery for longer than this per attempt
MAX_BACKOFF = 30.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def normalize_host(host: str) -> str:
    """ "us.posthog.com/" -> "https://us.posthog.com"; a given scheme is kept (http for self-hosted tests)."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return host


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped; None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _params(refresh: bool, filters_override: dict[str, Any] | None) -> dict[str, str]:
    """Query parameters of a content request: fresh results, and filters (a date range) that replace the
    saved ones for this request only, as PostHog's `filters_override` (a JSON object)."""
    params = {"refresh": "blocking"} if refresh else {}
    if filters_override:
        params["filters_override"] = json.dumps(filters_override, separators=(",", ":"))
    return params


def _detail(body: bytes) -> str:
    """PostHog's error `detail`, if the body has one, shortened for a message."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    detail = data.get("detail") if isinstance(data, dict) else None
    return detail[:300] if isinstance(detail, str) else ""


Content = TypeVar("Content", Insight, Dashboard)


async def in_base_currency(
    build: Callable[[str | None], Content], base_currency: Callable[[], Awaitable[str]]
) -> Content:
    """`build(None)`, the content normalized; when it shows currency values, `build(code)` again with the project's
    base currency from `base_currency()`, so that the project is asked only for content that shows money."""
    content = build(None)
    return build(await base_currency()) if shows_currency(content) else content


class PostHogClient:
    """Reads insights, dashboards and the project name from one PostHog project with a personal API key."""

    def __init__(
        self,
        host: str,
        project_id: int,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        session: aiohttp.ClientSession | None = None,
        allow_private_hosts: bool = False,
        max_response_bytes: int | None = None,
    ) -> None:
        self.host = normalize_host(host)
        self.project_id = project_id
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._session = session
        self._owns_session = session is None
        self.allow_private_hosts = allow_private_hosts
        self.max_response_bytes = max_response_bytes
        self._base_currency: str | None = None  # the project's, once read
        self._currency_lock = asyncio.Lock()

    def __repr__(self) -> str:  # no key in logs
        return f"PostHogClient(host={self.host!r}, project_id={self.project_id})"

    async def __aenter__(self) -> PostHogClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=outbound_connector(allow_private=self.allow_private_hosts)
            )
            self._owns_session = True
        return self._session

    # ------------------------------------------------------------ public API

    async def get_project_payload(self) -> dict[str, Any]:
        """The project (PostHog's Team: `name`, `timezone`, `base_currency`...), GET /api/projects/{id}/."""
        data = await self._get_json(f"/api/projects/{self.project_id}/", {}, f"project {self.project_id}")
        if not isinstance(data, dict):
            raise PostHogPayloadError(f"PostHog at {self.host} returned an unexpected answer for the project.")
        return data

    async def check_access(self) -> str:
        """The project's name; raises PostHogAuthError/PermissionError/NotFound when the key cannot read it."""
        data = await self.get_project_payload()
        name = data.get("name")
        return name if isinstance(name, str) and name else f"Project {self.project_id}"

    async def base_currency(self) -> str:
        """The project's base currency (ISO 4217, e.g. "EUR"), in which PostHog shows currency values: asked once
        per client (a `fetch` opens one client, so once per fetch, whatever the number of tiles). USD, PostHog's
        default, when the project does not say, says something that is not a currency code, or cannot be read
        (a key without project:read): the images are still delivered."""
        async with self._currency_lock:
            if self._base_currency is None:
                try:
                    code = currency_code((await self.get_project_payload()).get("base_currency"))
                except PostHogError as exc:
                    log.warning("Showing currency values in %s: the project could not be read (%s)",
                                DEFAULT_CURRENCY, exc)
                    code = None
                self._base_currency = code or DEFAULT_CURRENCY
            return self._base_currency

    async def get_insight_payload(
        self, ref: int | str, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The raw insight payload, by numeric id or short id; `filters_override` (e.g. {"date_from": "-7d",
        "date_to": None}) computes it with those filters instead of its saved ones."""
        params = _params(refresh, filters_override)
        base = f"/api/projects/{self.project_id}/insights/"
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit()):
            data = await self._get_json(f"{base}{int(ref)}/", params, f"insight {ref}")
        else:
            listing = await self._get_json(base, {**params, "short_id": ref}, f"insight {ref}")
            results = listing.get("results") if isinstance(listing, dict) else None
            if not isinstance(results, list):
                raise PostHogPayloadError(
                    f"PostHog at {self.host} returned an unexpected answer when looking up insight {ref}."
                )
            if not results:
                raise PostHogNotFound(
                    f"Insight {ref} was not found in project {self.project_id} on {self.host}.", status=404
                )
            data = results[0]
        if not isinstance(data, dict):
            raise PostHogPayloadError(f"PostHog at {self.host} returned something other than insight {ref}.")
        return data

    async def get_insight(
        self, ref: int | str, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> Insight:
        payload = await self.get_insight_payload(ref, refresh=refresh, filters_override=filters_override)
        return await in_base_currency(lambda currency: normalize_insight(
            payload, base_url=self.host, project_id=self.project_id, date_override=date_override(filters_override),
            base_currency=currency,
        ), self.base_currency)

    async def get_dashboard_payload(
        self, dashboard_id: int, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = _params(refresh, filters_override)
        path = f"/api/projects/{self.project_id}/dashboards/{int(dashboard_id)}/"
        data = await self._get_json(path, params, f"dashboard {dashboard_id}")
        if not isinstance(data, dict):
            raise PostHogPayloadError(f"PostHog at {self.host} returned something other than dashboard {dashboard_id}.")
        return data

    async def get_dashboard(
        self, dashboard_id: int, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> Dashboard:
        payload = await self.get_dashboard_payload(dashboard_id, refresh=refresh, filters_override=filters_override)
        return await in_base_currency(lambda currency: normalize_dashboard(
            payload, base_url=self.host, project_id=self.project_id, date_override=date_override(filters_override),
            base_currency=currency,
        ), self.base_currency)

    async def query(self, hogql: str, *, what: str = "the query") -> dict[str, Any]:
        """Run one HogQL query through PostHog's query API (POST /api/projects/{id}/query/, kind HogQLQuery),
        retried and refused like every other read; PostHog's answer: `columns`, `types`, `results` (rows as
        lists), `hasMore`. `what` names the request in messages ("events, rows 1 to 10000")."""
        path = f"/api/projects/{self.project_id}/query/"
        body = {"query": {"kind": "HogQLQuery", "query": hogql}}
        try:
            data = await self._request_json("POST", path, what, json_body=body)
        except PostHogNotFound as exc:
            raise PostHogNotFound(
                self._redact(f"Project {self.project_id} was not found on {self.host}."), status=exc.status
            ) from None
        except PostHogPermissionError as exc:
            message = (
                f"The PostHog API key may not run queries in project {self.project_id} on {self.host} "
                "(HTTP 403). Give the key access to this project and the query:read scope."
            )
            raise PostHogPermissionError(self._redact(message), status=exc.status) from None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise PostHogPayloadError(f"PostHog at {self.host} returned an unexpected answer for {what}.")
        return data

    # ------------------------------------------------------------ transport

    async def _get_json(self, path: str, params: dict[str, str], what: str) -> Any:
        """GET with retries; `what` names the object in messages ("insight 12", "dashboard 42")."""
        return await self._request_json("GET", path, what, params=params)

    async def _request_json(
        self, method: str, path: str, what: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> Any:
        """One request with retries (429, 5xx, lost connections, time-outs; Retry-After honoured), its JSON
        answer decoded; `json_body` is sent as JSON. Each call is retried on its own: a caller going page by page
        never starts over."""
        url = f"{self.host}{path}"
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        last_problem = ""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            wait: float | None = None
            try:
                async with self._get_session().request(
                    method, url, params=params or {}, json=json_body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout), allow_redirects=False,
                ) as response:
                    status = response.status
                    if status in REDIRECT_STATUSES:
                        raise self._redirect_error(response.headers.get("Location", ""), what)
                    body = await self._read(response, what)
                    if status < 400:
                        return self._decode(body, what)
                    if status not in RETRY_STATUSES:
                        raise self._status_error(status, body, what)
                    last_problem = f"HTTP {status}"
                    wait = parse_retry_after(response.headers.get("Retry-After"))
            except TimeoutError:
                last_problem = f"no answer within {self.timeout:g} s"
            except aiohttp.ClientError as exc:
                refused = refused_address(exc)
                if refused is not None:
                    raise PostHogAddressNotAllowed(
                        f"PostHog at {self.host} was not fetched: {refused}. This service only fetches public "
                        "addresses; connect the project with its public address."
                    ) from None
                last_problem = f"connection failed: {type(exc).__name__}"
            if attempt + 1 < attempts:
                await asyncio.sleep(
                    retry_after_delay(wait) if wait is not None
                    else backoff_delay(attempt + 1, self.backoff_base, cap=MAX_BACKOFF)
                )
        status = int(last_problem[5:]) if last_problem.startswith("HTTP ") else None
        if status == 429:
            message = (
                f"PostHog at {self.host} is rate limiting this API key (HTTP 429 on {attempts} attempts "
                f"for {what}). Try again in a few minutes."
            )
        else:
            message = (
                f"PostHog at {self.host} is unavailable ({last_problem}, {attempts} attempts for "
                f"{what}). Try again later."
            )
        raise PostHogUnavailable(self._redact(message), status=status)

    async def _read(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        """The body, refused past `max_response_bytes` (before reading it, when the server says its length)."""
        limit = self.max_response_bytes
        if limit is None:
            return await response.read()
        if (response.content_length or 0) > limit:
            raise self._too_large(what)
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                raise self._too_large(what)
        return bytes(body)

    def _too_large(self, what: str) -> PostHogResponseTooLarge:
        return PostHogResponseTooLarge(
            f"PostHog at {self.host} answered with more than {self.max_response_bytes:,} bytes for {what} "
            "(POSTHOG_MAX_RESPONSE_BYTES)."
        )

    def _redirect_error(self, location: str, what: str) -> PostHogAddressNotAllowed:
        target = urlsplit(urljoin(f"{self.host}/", location))
        where = f"{target.scheme}://{target.netloc}" if target.netloc else "another address"
        return PostHogAddressNotAllowed(self._redact(
            f"PostHog at {self.host} redirected the request for {what} to {where}, and redirects are not "
            "followed (the API key would go with them). Connect the project with the address PostHog answers on."
        ))

    def _decode(self, body: bytes, what: str) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise PostHogPayloadError(
                f"PostHog at {self.host} returned a response that is not valid JSON for {what}."
            ) from None

    def _status_error(self, status: int, body: bytes, what: str) -> PostHogError:
        detail = _detail(body)
        if status == 401:
            message = (
                f"The PostHog API key was rejected by {self.host} (HTTP 401). Check that it is a personal API "
                "key that has not been revoked."
            )
            return PostHogAuthError(self._redact(message), status=status)
        if status == 403:
            message = (
                f"The PostHog API key may not read {what} in project {self.project_id} on {self.host} "
                "(HTTP 403). Give the key access to this project and the insight:read, dashboard:read and "
                "project:read scopes."
            )
            return PostHogPermissionError(self._redact(message), status=status)
        if status == 404:
            where = f"on {self.host}" if what.startswith("project") else f"in project {self.project_id} on {self.host}"
            return PostHogNotFound(self._redact(f"{what[:1].upper()}{what[1:]} was not found {where}."), status=status)
        suffix = f": {detail}" if detail else "."
        message = f"PostHog at {self.host} refused the request for {what} (HTTP {status}){suffix}"
        return PostHogError(self._redact(message), status=status)

    def _redact(self, message: str) -> str:
        # Belt and braces: server-supplied detail text could echo the key back.
        return message.replace(self._api_key, "***") if self._api_key else message
