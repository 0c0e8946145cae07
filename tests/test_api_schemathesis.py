"""schemathesis against the live server's own OpenAPI document: every operation, generated requests (valid ones and
invalid ones), then stateful sequences that follow the document's links (create a subscription, then get, change,
pause, resume, send, list its deliveries, delete it by the id the answer gave). No answer may be a server error or
differ from the document (status, content type, headers, body schema).

The server runs in a thread of its own (schemathesis calls it synchronously with requests) on a real database,
with the PostHog stand-in behind a connection, some subscriptions, delivery history with per-target outcomes and a
ready export, so that the answers carry real objects. Generation is derandomized: the same cases every run.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.routes import build_registry
from core.db import Database
from core.models import Delivery, DeliveryTarget, utcnow
from core.subscriptions import demo_connection
from exports import run_now
from posthog_api import check_connection, save_connection
from tests.api_support import start_api
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
POSITIVE_EXAMPLES = 45  # per operation
NEGATIVE_EXAMPLES = 30  # per operation that has something to get wrong
MIN_CASES = 1000


class LiveServer(threading.Thread):
    """The service's web application with seeded objects, on its own event loop in this thread."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.base = self.secret = ""
        self.connection_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout=30)

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        database = Database(self.database_url)
        posthog = PostHogStandIn()
        env = None
        try:
            posthog.add_insight(load_fixture("trendsNumber"))
            await posthog.start()
            env = await start_api(database, api_rate_limit_per_minute=1_000_000)
            await self._seed(env, posthog)
            self.base = env.base
        except BaseException as exc:  # noqa: BLE001 - handed to the test, which fails with it
            self.failed = exc
            self.ready.set()
            raise
        self.ready.set()
        try:
            await self._stopping.wait()
        finally:
            await env.close()
            await posthog.stop()
            await database.dispose()

    async def _seed(self, env, posthog: PostHogStandIn) -> None:
        workspace_id = await env.install("T1")
        self.secret = await env.key("T1", name="schemathesis")
        async with env.db.transaction() as session:
            self.connection_id = (await demo_connection(session, workspace_id)).id
        checked = await check_connection(posthog.url, str(posthog.project_id), posthog.api_key, env.settings)
        async with env.db.transaction() as session:
            await save_connection(session, checked, workspace_id=workspace_id, created_by="test")
        made = []
        for body in (
            {"content_type": "dashboard", "content_ref": "42", "email_recipients": ["team@example.com"],
             "schedule": "weekly on monday at 9:00 over the last 7 days with xlsx", "timezone": "Europe/London"},
            {"content_type": "dashboard", "content_ref": "42", "slack_channel_id": "C0METRICS", "schedule": "daily"},
            {"content_type": "dashboard", "content_ref": "44", "slack_channel_id": "C0SALES", "schedule": "weekdays"},
        ):
            answer = await env.call("POST", "/api/v1/subscriptions", self.secret,
                                    json_body={**body, "connection_id": self.connection_id})
            assert answer.status == 201, answer
            made.append(answer.body["id"])
        assert (await env.call("POST", f"/api/v1/subscriptions/{made[2]}/pause", self.secret)).status == 200
        async with env.db.transaction() as session:  # delivery history, as the pipeline records it
            now = utcnow()
            for days, status in ((2, "succeeded"), (1, "partial")):
                delivery = Delivery(subscription_id=made[0], scheduled_for=now - timedelta(days=days),
                                    status=status, attempts=1, started_at=now, finished_at=now)
                delivery.targets = [
                    DeliveryTarget(kind="email", address="team@example.com", status="sent", attempts=1, sent_at=now),
                    DeliveryTarget(kind="email", address="ops@example.com", status="failed" if days == 1 else "sent",
                                   attempts=3, error="550 mailbox unavailable" if days == 1 else None),
                ]
                session.add(delivery)
        export = await env.call("POST", "/api/v1/exports", self.secret,
                                json_body={"kind": "dashboard", "ref": "42", "format": "csv",
                                           "connection_id": self.connection_id})
        assert export.status == 202, export
        done = await run_now(env.db, env.settings, export.body["id"], worker_id="test")
        assert done is not None and done.status == "ready", done and done.error


@pytest.fixture
def live_server(db, database_url):
    server = LiveServer(database_url)
    server.start()
    assert server.ready.wait(120), "the server did not start"
    if server.failed is not None:
        raise server.failed
    yield server
    server.stop()


def test_every_operation_answers_as_its_document_says(live_server):
    api_base = f"{live_server.base}/api/v1"
    auth = {"Authorization": f"Bearer {live_server.secret}"}
    schema = schemathesis.openapi.from_url(f"{api_base}/openapi.json")
    connection_id = live_server.connection_id

    @schema.hook
    def flatmap_body(context, body):
        # Random content references are nearly never real ones: offer, beside each generated subscription, the same
        # one about the demo project's dashboard 42 to one address, so that creations succeed and the stateful
        # sequences have an id to follow.
        if context.operation.label != "POST /subscriptions" or not isinstance(body, dict) or \
                body.get("content_type") not in ("insight", "dashboard"):
            return st.just(body)
        real = {"content_type": "dashboard", "content_ref": "42", "connection_id": connection_id,
                "email_recipients": ["team@example.com"], "schedule": body.get("schedule", "weekly")}
        return st.sampled_from([body, real])

    session = requests.Session()
    cases: Counter[str] = Counter()

    def call(case) -> None:
        response = case.call(base_url=api_base, session=session, headers=auth)
        case.validate_response(response, checks=CHECKS, headers=auth,
                               transport_kwargs={"base_url": api_base, "headers": auth, "session": session})
        cases[case.operation.label] += 1

    settings = dict(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(build_registry().operations)
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES), (GenerationMode.NEGATIVE,
                                                                              NEGATIVE_EXAMPLES)):
            if mode is GenerationMode.NEGATIVE and not _can_be_wrong(operation):
                continue

            @hypothesis.settings(max_examples=examples, **settings)
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                call(case)

            run()

    class Sequences(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": api_base, "session": session, "headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=auth, transport_kwargs=kwargs)
            cases["stateful " + case.operation.label] += 1

    Sequences.run(settings=hypothesis.settings(max_examples=40, stateful_step_count=6, **settings))

    stateless = sum(n for label, n in cases.items() if not label.startswith("stateful "))
    stateful = sum(n for label, n in cases.items() if label.startswith("stateful "))
    print(f"\nschemathesis: {stateless} generated cases over {len(operations)} operations, {stateful} stateful steps")
    assert {op.label for op in operations} <= set(cases), "every operation was called"
    assert stateless + stateful >= MIN_CASES
    # The links were followed: subscriptions created in sequences were then read and changed by their new id.
    assert cases["stateful GET /subscriptions/{subscription_id}"] + \
        cases["stateful POST /subscriptions/{subscription_id}/pause"] > 0


def _can_be_wrong(operation) -> bool:
    """Negative cases need something to get wrong: a body, a path id or a query parameter."""
    definition = operation.definition.raw
    return bool(definition.get("requestBody") or any(p.get("in") in ("path", "query")
                                                     for p in definition.get("parameters", [])))
