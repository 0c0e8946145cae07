"""Web API clients pointed at `settings.slack_api_url`, with retries on rate limits and lost connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from core.retry import retry_after_delay
from core.settings import Settings

# A Retry-After longer than this is not waited out in-process: the delivery fails as transient instead and the
# scheduler retries later, so that one rate-limited workspace cannot hold a worker for minutes.
MAX_RETRY_AFTER_SECONDS = 30.0


def _retry_after(response: HttpResponse) -> float | None:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except (TypeError, ValueError):
                return None
    return None


class RateLimitRetryHandler(AsyncRetryHandler):
    """Waits out HTTP 429 for Retry-After seconds (plus a little jitter), up to a cap."""

    def __init__(
        self,
        max_retry_count: int = 3,
        max_wait: float = MAX_RETRY_AFTER_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response)
        return wait is None or wait <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = (_retry_after(response) if response is not None else None) or 1.0
        state.next_attempt_requested = True
        await self.sleep(retry_after_delay(wait))
        state.increment_current_attempt()


def slack_status(exc: SlackApiError) -> int:
    """The HTTP status of a failed call (0 when unknown)."""
    response = exc.response
    # A Slack answer has `status_code`; a body the SDK could not parse leaves the raw aiohttp response (`status`).
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else 0


def slack_error_code(exc: SlackApiError) -> str:
    """Slack's error code (`channel_not_found`, ...), or `http_<status>` when the answer was not Slack's JSON.

    A 5xx from Slack or a proxy in front of it may carry an HTML or plain-text body; the SDK then keeps it as a
    string (or keeps no parsed body at all), so `exc.response.get("error")` cannot be relied on.
    """
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        return data["error"]
    return f"http_{slack_status(exc)}"


def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def web_client(
    settings: Settings,
    token: str | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    retry_connection_errors: bool = True,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncWebClient:
    """A Web API client; give it a long-lived `session` to reuse connections (otherwise one per call).

    A 429's Retry-After is always waited out (up to a cap). Lost connections are retried here for the
    interactive paths (commands, modals); deliveries pass `retry_connection_errors=False` because the pipeline
    retries them itself, resuming where the send stopped (see core/retry.py)."""
    handlers: list[AsyncRetryHandler] = [RateLimitRetryHandler(sleep=sleep)]
    if retry_connection_errors:
        handlers.insert(0, AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return AsyncWebClient(
        token=token, base_url=api_base_url(settings), timeout=30, session=session, retry_handlers=handlers
    )
