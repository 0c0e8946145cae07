"""`Idempotency-Key` on creating requests: a retry of the same request with the same key, within a day, gets the
first answer again (the same object, marked `Idempotent-Replayed: true`) instead of making a second one.

The answer is kept in the database, so a retry that reaches another `serve` process is recognised too. The row is
written before the request runs: two requests with one key at the same time make one object, and the second is
told to retry (409). The same key with another body is refused (422). An answer that is a server error is not
kept, so that a retry runs again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.models import ApiIdempotencyRecord, utcnow

from .problems import ApiProblem, field_problem

KEPT_FOR = timedelta(hours=24)


class Idempotency:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def run(self, api_key_id: int, key: str, fingerprint: str,
                  produce: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not (0 < len(key) <= 255 and key.isascii() and key.isprintable() and " " not in key):
            raise field_problem(422, "header.Idempotency-Key", "Use 1 to 255 visible ASCII characters, e.g. a UUID.")
        now = utcnow()
        try:
            async with self.database.transaction() as session:
                await session.execute(delete(ApiIdempotencyRecord).where(
                    ApiIdempotencyRecord.api_key_id == api_key_id, ApiIdempotencyRecord.created_at < now - KEPT_FOR))
                found = await session.scalar(select(ApiIdempotencyRecord).where(
                    ApiIdempotencyRecord.api_key_id == api_key_id, ApiIdempotencyRecord.key == key))
                if found is None:
                    record = ApiIdempotencyRecord(api_key_id=api_key_id, key=key, fingerprint=fingerprint,
                                                  created_at=now)
                    session.add(record)
                    await session.flush()
                    record_id = record.id
                else:
                    return _replay(found, fingerprint)
        except IntegrityError:  # another request with this key got there first
            raise _in_progress() from None
        try:
            response = await produce()
        except BaseException:
            await self._forget(record_id)
            raise
        if response.status >= 500:
            await self._forget(record_id)
            return response
        async with self.database.transaction() as session:
            record = await session.get(ApiIdempotencyRecord, record_id)
            if record is not None:
                record.status = response.status
                record.body = response.body.decode() if isinstance(response.body, bytes) else None
                record.location = response.headers.get("Location")
        return response

    async def _forget(self, record_id: int) -> None:
        async with self.database.transaction() as session:
            await session.execute(delete(ApiIdempotencyRecord).where(ApiIdempotencyRecord.id == record_id))


def _replay(found: ApiIdempotencyRecord, fingerprint: str) -> web.Response:
    if found.fingerprint != fingerprint:
        raise field_problem(422, "header.Idempotency-Key", "This Idempotency-Key was used with another request. "
                            "Use a new key for a new request.")
    if found.status is None:
        raise _in_progress()
    headers = {"Idempotent-Replayed": "true"}
    if found.location:
        headers["Location"] = found.location
    content_type = "application/json" if found.status < 400 else "application/problem+json"
    if found.body is None:
        return web.Response(status=found.status, headers=headers)
    return web.Response(status=found.status, text=found.body, content_type=content_type, headers=headers)


def _in_progress() -> ApiProblem:
    return ApiProblem(409, "A request with this Idempotency-Key is still running. Try again in a moment.",
                      headers={"Retry-After": "1"})
