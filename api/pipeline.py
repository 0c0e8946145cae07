"""What every API request goes through, in this order: the key (401), its rate (429), its scope (403 for a
read-only key writing), the path ids (404), the query and the body (400, 413, 415, 422), the Idempotency-Key of a
creating request, then the operation's handler; its answer gets an ETag when it is a single object.

Who may see what is decided by the key's workspace, passed to every handler as `call.workspace_id`: handlers look
objects up only within it, so another workspace's object is "not found" like an absent one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from core import api_keys
from core.audit import Actor, act_from_now_on
from core.db import Database
from core.limits import RateLimited, RateLimiter
from core.settings import Settings

from .idempotency import Idempotency
from .problems import ApiProblem, field_problem, problem_response, validation_problem
from .registry import MAX_ID, Operation, Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    """The API key a request came with (a plain copy: no database session outlives the check)."""

    id: int
    workspace_id: int | None
    name: str
    read_only: bool
    created_by_slack_user: str | None
    created_by_email: str | None


@dataclass
class Call:
    """One request, validated, as a handler sees it."""

    request: web.Request
    database: Database
    settings: Settings
    key: KeyInfo
    path: dict[str, int]
    query: Any = None
    body: Any = None
    given: set[str] = field(default_factory=set)  # the body's fields that were sent (PATCH: absent = unchanged)

    limits: RateLimiter | None = None

    @property
    def workspace_id(self) -> int | None:
        return self.key.workspace_id

    def take(self, action: str) -> None:
        """Count one costly action (send, export, connect) against the fair limits every door shares
        (core/limits.py), the key standing for the person; 429 when the budget is spent."""
        if self.limits is None:
            return
        try:
            self.limits.take(action, workspace=self.workspace_id, user=f"api-key:{self.key.id}")
        except RateLimited as exc:
            raise ApiProblem(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


class RequestRate:
    """A token bucket per key: `per_minute` requests a minute, as a burst or spread out. Per process: N `serve`
    processes behind a load balancer allow up to N times as much."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.buckets: dict[int, tuple[float, float]] = {}

    def take(self, key_id: int) -> None:
        now = self.clock()
        tokens, then = self.buckets.get(key_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        if tokens < 1:
            self.buckets[key_id] = (tokens, now)
            wait = math.ceil((1 - tokens) / self.rate)
            raise ApiProblem(429, f"This key made more than {int(self.capacity)} requests in a minute. Try again in "
                             f"{wait} s.", headers={"Retry-After": str(wait)})
        self.buckets[key_id] = (tokens - 1, now)


class Pipeline:
    def __init__(self, database: Database, settings: Settings, limits: RateLimiter | None = None) -> None:
        self.database = database
        self.settings = settings
        self.limits = limits if limits is not None else RateLimiter.from_settings(settings)
        self.rate = RequestRate(settings.api_rate_limit_per_minute)
        self.idempotency = Idempotency(database)

    def handler(self, op: Operation):
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                return await self._handle(op, request)
            except ApiProblem as problem:
                return problem_response(request, problem)
            except Exception:  # noqa: BLE001 - a bug must still answer in the documented shape
                log.exception("API %s %s failed", op.method, op.path)
                return problem_response(request, ApiProblem(500, "Something went wrong on our side; it was logged."))

        return handle

    async def _handle(self, op: Operation, request: web.Request) -> web.StreamResponse:
        key = await self.authenticate(request)
        self.rate.take(key.id)
        if op.writes and key.read_only:
            raise ApiProblem(403, f"The API key “{key.name}” is read-only: it cannot change anything.")
        # What the request changes is recorded as this key's (core/audit.py); each request is a task of its own.
        act_from_now_on(Actor("api", f"{key.name} (key #{key.id})", request.remote or ""))
        call = Call(request, self.database, self.settings, key, self._path(op, request), limits=self.limits)
        if op.query is not None:
            try:
                call.query = op.query.model_validate(dict(request.query))
            except ValidationError as exc:
                raise validation_problem("query", exc.errors(include_url=False)) from None
        raw = b""
        if op.body is not None:
            raw = await self._read_body(request)
            call.body, call.given = self._parse_body(op.body, raw)
        idempotency_key = request.headers.get("Idempotency-Key") if op.idempotent else None
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(b"\n".join([op.method.encode(), request.path.encode(), raw])).hexdigest()
            return await self.idempotency.run(key.id, idempotency_key, fingerprint,
                                              lambda: self._respond(op, call))
        return await self._respond(op, call)

    async def _respond(self, op: Operation, call: Call) -> web.StreamResponse:
        try:
            reply = await op.handler(call)
        except ApiProblem as problem:
            return problem_response(call.request, problem)
        return render(call.request, reply)

    async def authenticate(self, request: web.Request) -> KeyInfo:
        challenge = {"WWW-Authenticate": 'Bearer realm="posthog-exports"'}
        scheme, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiProblem(401, "Send an API key as `Authorization: Bearer phe_...`. Make one in Slack with "
                             "`/posthog api-key create NAME` or with `app.py api-keys create`.", headers=challenge)
        async with self.database.transaction() as session:
            key = await api_keys.authenticate(session, secret.strip())
            info = None if key is None else KeyInfo(key.id, key.workspace_id, key.name, key.read_only,
                                                    key.created_by_slack_user, key.created_by_email)
        if info is None:
            raise ApiProblem(401, "This API key is not valid: it is unknown or was revoked.",
                             headers={"WWW-Authenticate": 'Bearer realm="posthog-exports", error="invalid_token"'})
        return info

    @staticmethod
    def _path(op: Operation, request: web.Request) -> dict[str, int]:
        values = {}
        for name in op.path_params:
            text = request.match_info.get(name, "")
            # A malformed id names nothing, like an unknown one.
            if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) <= MAX_ID:
                raise ApiProblem(404, f"There is nothing at {request.path}.")
            values[name] = int(text)
        return values

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.api_max_body_bytes
        too_large = ApiProblem(413, f"The body is larger than {limit:,} bytes.")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        data = bytearray()
        async for chunk in request.content.iter_any():
            data += chunk
            if len(data) > limit:
                raise too_large
        if data and request.content_type != "application/json":
            raise ApiProblem(415, f"Send the body as application/json, not {request.content_type[:60]}.")
        return bytes(data)

    @staticmethod
    def _parse_body(model: type[BaseModel], raw: bytes) -> tuple[BaseModel, set[str]]:
        if not raw.strip():
            raise field_problem(422, "body", "This request needs a JSON object as its body.")
        try:
            body = model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if any(e.get("type") == "json_invalid" for e in errors):
                raise ApiProblem(400, "The body is not valid JSON.") from None
            raise validation_problem("body", errors) from None
        return body, set(body.model_fields_set)


def render(request: web.Request, reply: Reply) -> web.StreamResponse:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    data = json.dumps(reply.body.model_dump(mode="json")).encode()
    headers = dict(reply.headers)
    if reply.etag:
        headers["ETag"] = etag_of(data)
        if reply.status == 200 and request.method == "GET" and _matches(request.headers.get("If-None-Match"),
                                                                         headers["ETag"]):
            return web.Response(status=304, headers=headers)
    return web.Response(status=reply.status, body=data, content_type="application/json", headers=headers)


def etag_of(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def etag_for(model: BaseModel) -> str:
    """The ETag a GET of this object gives (If-Match compares against it)."""
    return etag_of(json.dumps(model.model_dump(mode="json")).encode())


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


def check_if_match(call: Call, current: BaseModel) -> None:
    """Refuse a change made from a stale read (If-Match given and the object changed since)."""
    header = call.request.headers.get("If-Match")
    if header is not None and not _matches(header, etag_for(current)):
        raise ApiProblem(412, "The object changed since you read it (its ETag is no longer the one in If-Match). "
                         "Read it again, then make the change.")
