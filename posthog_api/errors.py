"""Errors raised by `posthog_api`. Every message is meant to be shown to a user as is.

Messages name the thing that failed (insight, dashboard, project, host) and what to do about it. They never
contain the API key: the client only ever puts the key in the Authorization header.
"""

from __future__ import annotations


class PostHogError(Exception):
    """Base class. `message` is user-facing; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class PostHogAuthError(PostHogError):
    """HTTP 401: the key is wrong, expired or revoked."""


class PostHogPermissionError(PostHogError):
    """HTTP 403: the key is valid but may not read this project or object (missing scope or access)."""


class PostHogNotFound(PostHogError):
    """HTTP 404, or a short id that matches no insight."""


class PostHogUnavailable(PostHogError):
    """PostHog could not be reached or kept failing (5xx, 429, network error, time-out) after retries.

    This is the only transient error: callers may try again later.
    """


class PostHogPayloadError(PostHogError):
    """PostHog answered, but not with what we expected (invalid JSON, or not an insight/dashboard)."""


class PostHogAddressNotAllowed(PostHogError):
    """The PostHog address, or where it redirected, is one this service may not fetch (a private network
    address, another host). A configuration problem: the connection has to be changed."""


class PostHogResponseTooLarge(PostHogPayloadError):
    """PostHog's answer was larger than POSTHOG_MAX_RESPONSE_BYTES."""
