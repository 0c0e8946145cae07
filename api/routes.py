"""The API on the service's aiohttp application: `/api/v1/...` (the operations), `/api/v1/openapi.json` (their
document, generated from the declarations) and `/api/docs` (a page that renders it, with its own assets)."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from core.db import Database
from core.limits import RateLimiter
from core.settings import Settings

from . import audit, connections, exports, schedules, shares, subscriptions
from .pipeline import Pipeline
from .problems import ApiProblem, problem_response
from .registry import Registry

PREFIX = "/api"
VERSION = "v1"
STATIC = Path(__file__).parent / "static"
DESCRIPTION = (
    "Everything Slack can do, over HTTP: subscriptions and their delivery history, exports, PostHog connections, "
    "share links and schedule previews. Authenticate with an API key as `Authorization: Bearer phe_...`. Errors are "
    "RFC 9457 problem details. Creating requests accept an `Idempotency-Key`; single objects carry an `ETag`."
)


def build_registry() -> Registry:
    registry = Registry()
    for module in (subscriptions, exports, connections, schedules, audit, shares):
        module.register(registry)
    return registry


def openapi_document(registry: Registry | None = None) -> dict:
    return (registry or build_registry()).openapi_document(
        title="PostHog Exports API", version="1.0.0", description=DESCRIPTION, server_url=f"{PREFIX}/{VERSION}")


@web.middleware
async def problems_for_unknown_routes(request: web.Request, handler):
    """Unknown paths and methods under /api answer in the API's error format too."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return problem_response(request, ApiProblem(404, f"There is nothing at {request.path}."))
    except web.HTTPMethodNotAllowed as exc:
        return problem_response(request, ApiProblem(
            405, f"{request.method} is not allowed here.", headers={"Allow": ", ".join(sorted(exc.allowed_methods))}))


def add_routes(app: web.Application, database: Database, settings: Settings, *, limits: RateLimiter | None = None
               ) -> None:
    """Mount the API; `limits` is the process's fair limits, shared with the other doors when given."""
    registry = build_registry()
    pipeline = Pipeline(database, settings, limits)
    document = json.dumps(openapi_document(registry)).encode()
    api = web.Application(middlewares=[problems_for_unknown_routes])
    for op in registry.operations:
        api.router.add_route(op.method, f"/{VERSION}{op.path}", pipeline.handler(op))

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    async def docs(_request: web.Request) -> web.Response:
        return web.FileResponse(STATIC / "docs.html")

    api.router.add_get(f"/{VERSION}/openapi.json", openapi)
    api.router.add_get("/docs", docs)
    api.router.add_static("/docs/assets", STATIC)
    app.add_subapp(PREFIX, api)
