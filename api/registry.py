"""The one source of the API's shape: each operation declares its method, path, query, body and responses with
pydantic models, and from these declarations come both the validation of every request (api/pipeline.py) and
the OpenAPI 3.1 document (`openapi_document`). Nothing describes the API a second time.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .problems import Problem

REF_TEMPLATE = "#/components/schemas/{model}"
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: what a response lets one call next, e.g. a new subscription's id -> get it."""

    operation_id: str
    parameters: dict[str, str]  # parameter -> runtime expression, e.g. "$response.body#/id"
    description: str = ""


@dataclass(frozen=True)
class Outcome:
    """A documented successful response."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    links: dict[str, Link] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # name -> description (string values)


@dataclass(frozen=True)
class Reply:
    """What a handler answers: a status, a body model, headers; `etag` for a single object."""

    status: int
    body: BaseModel | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = False


@dataclass
class Operation:
    method: str
    path: str  # under /api/v1, e.g. "/subscriptions/{subscription_id}"; path parameters are positive ids
    operation_id: str
    summary: str
    tag: str
    handler: Callable[[Any], Awaitable[Reply]]
    outcomes: list[Outcome]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    writes: bool = False  # refused to read-only keys
    idempotent: bool = False  # honours Idempotency-Key (creating requests)
    if_match: bool = False  # honours If-Match against the object's ETag
    problems: tuple[int, ...] = ()  # statuses the handler itself may answer with a problem, beside the usual ones
    description: str = ""

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    def problem_statuses(self) -> list[int]:
        statuses = {401, 429, *self.problems}
        if self.query is not None or self.body is not None:
            statuses.add(422)
        if self.writes:
            statuses.add(403)
        if self.path_params:
            statuses.add(404)
        if self.body is not None:
            statuses |= {400, 413, 415}
        if self.idempotent:
            statuses |= {409, 422}
        if self.if_match:
            statuses.add(412)
        return sorted(statuses)


class Registry:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def add(self, operation: Operation) -> Operation:
        if any(o.operation_id == operation.operation_id for o in self.operations):
            raise ValueError(f"operation id {operation.operation_id} is declared twice")
        self.operations.append(operation)
        return operation

    # --- the OpenAPI document -------------------------------------------------------------------------------

    def openapi_document(self, *, title: str, version: str, description: str, server_url: str) -> dict[str, Any]:
        models: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
        for op in self.operations:
            if op.body is not None:
                models.append((op.body, "validation"))
            models += [(o.model, "serialization") for o in op.outcomes if o.model is not None]
        refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF_TEMPLATE)
        components = dict(definitions.get("$defs", {}))
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = self._operation(op, refs, components)
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version, "description": description},
            "servers": [{"url": server_url}],
            "security": [{"bearerAuth": []}],
            "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in self.operations)],
            "paths": paths,
            "components": {
                "schemas": dict(sorted(components.items())),
                "securitySchemes": {"bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "phe_...",
                    "description": "An API key made in Slack (`/posthog api-key create NAME`) or on the command "
                    "line (`app.py api-keys create`).",
                }},
            },
        }

    def _operation(self, op: Operation, refs: dict, components: dict) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": MAX_ID}}
            for name in op.path_params
        ]
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template=REF_TEMPLATE)
            components.update(schema.pop("$defs", {}))
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                described = _not_null(prop)
                parameter = {"name": name, "in": "query", "required": name in required, "schema": described}
                if "description" in described:
                    parameter["description"] = described.pop("description")
                parameters.append(parameter)
        if op.idempotent:
            parameters.append({
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Any unique string (a UUID): a retry with the same key and body within a day gets "
                "the first answer again instead of making a second object.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            })
        if op.if_match:
            parameters.append({
                "name": "If-Match", "in": "header", "required": False,
                "description": "The ETag you read: the change is made only if the object has not changed since.",
                "schema": {"type": "string", "maxLength": 200, "pattern": "^[\\x20-\\x7e]*$"},
            })
        responses: dict[str, Any] = {}
        for outcome in op.outcomes:
            response: dict[str, Any] = {"description": outcome.description}
            if outcome.model is not None:
                response["content"] = {"application/json": {"schema": refs[(outcome.model, "serialization")]}}
            if outcome.headers:
                response["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                       for name, text in outcome.headers.items()}
            if outcome.links:
                response["links"] = {
                    name: {"operationId": link.operation_id, "parameters": link.parameters,
                           **({"description": link.description} if link.description else {})}
                    for name, link in outcome.links.items()
                }
            responses[str(outcome.status)] = response
        problem = {"application/problem+json": {"schema": refs[(Problem, "serialization")]}}
        for status in op.problem_statuses():
            entry: dict[str, Any] = {"description": _PROBLEM_TEXT.get(status, "A problem"), "content": problem}
            if status in (429, 409):
                entry["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                                    "schema": {"type": "string"}}}
            responses[str(status)] = entry
        document: dict[str, Any] = {
            "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag], "parameters": parameters,
            "responses": responses,
        }
        if op.description:
            document["description"] = op.description
        if op.body is not None:
            document["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": refs[(op.body, "validation")]}}}
        return document


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's "or null": a parameter left out is the absent value."""
    schema = {k: v for k, v in schema.items() if k != "title"}
    options = schema.get("anyOf")
    if options and any(o.get("type") == "null" for o in options):
        rest = [o for o in options if o.get("type") != "null"]
        schema.pop("anyOf")
        if schema.get("default", 0) is None:
            schema.pop("default")
        schema = {**(rest[0] if len(rest) == 1 else {"anyOf": rest}), **schema}
    return schema


_PROBLEM_TEXT = {
    400: "The body is not JSON.",
    401: "No API key, or one that is unknown or revoked.",
    403: "A read-only key cannot change anything.",
    404: "No such object in the key's workspace.",
    409: "A request with the same Idempotency-Key is still running, or the object is not in the state asked for.",
    410: "It expired.",
    412: "The object changed since the ETag given in If-Match.",
    413: "The body is larger than API_MAX_BODY_BYTES.",
    415: "The body must be application/json.",
    422: "The request is not valid; `errors` names each field at fault.",
    429: "Too many requests with this key; try again after Retry-After seconds.",
    503: "PostHog did not answer in time.",
}
