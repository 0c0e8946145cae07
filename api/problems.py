"""Errors as RFC 9457 problem details (`application/problem+json`): a title per kind of problem, a detail for the
person who made the request, and for invalid input the fields at fault with what is wrong with each."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Where: `body.schedule`, `query.limit`, `path.subscription_id`, `header.X`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = ""
    instance: str | None = Field(None, description="The request path.")
    errors: list[FieldProblem] = Field(default_factory=list, description="The fields at fault, for invalid input.")


class ApiProblem(Exception):
    """Raised anywhere in a request to answer it with a problem."""

    def __init__(self, status: int, detail: str = "", *, errors: list[FieldProblem] | None = None,
                 headers: dict[str, str] | None = None, type: str = "about:blank") -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers, self.type = status, detail, errors or [], headers, type


def field_problem(status: int, field: str, message: str) -> ApiProblem:
    """One field at fault, its message also the detail."""
    return ApiProblem(status, message, errors=[FieldProblem(field=field, message=message)])


def not_found(what: str) -> ApiProblem:
    # The same words for an unknown id and another workspace's: nothing tells them apart.
    return ApiProblem(404, f"{what} was not found.")


def problem_response(request: web.Request | None, problem: ApiProblem) -> web.Response:
    body = Problem(type=problem.type, title=TITLES.get(problem.status, "Error"), status=problem.status,
                   detail=problem.detail, instance=request.path if request is not None else None,
                   errors=problem.errors)
    return web.Response(status=problem.status, body=json.dumps(body.model_dump(mode="json")).encode(),
                        content_type=MEDIA_TYPE, headers=problem.headers)


def validation_problem(location: str, errors: list[dict[str, Any]]) -> ApiProblem:
    """A pydantic ValidationError's errors as field problems under `location` (body, query, ...)."""
    fields = []
    for error in errors[:50]:
        path = ".".join(str(part) for part in error.get("loc", ()))
        fields.append(FieldProblem(field=f"{location}.{path}" if path else location, message=error.get("msg", "")))
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return ApiProblem(422, f"The request is not valid: {detail}", errors=fields)
