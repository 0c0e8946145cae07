"""Prometheus metrics: a delivery run moves the counters and histograms of `core.metrics`, and `/metrics` of the
web application serves them in the text format.

The scheduler service runs on the stand-ins (demo PostHog project, Slack Web API stand-in, SMTP on loopback) with
the browserless `FixedImages` loader, as in test_scheduler_pipeline.py. The registry is per process, so each test
compares values before and after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from app import build_web_app
from core import metrics
from core.db import Database
from tests.standins.smtp_server import SmtpServer
from tests.test_scheduler_pipeline import DASHBOARD, INSIGHT, NINE, Env, make_env


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def env(db: Database, smtp: SmtpServer) -> AsyncIterator[Env]:
    async with make_env(db, smtp) as built:
        yield built


SERIES = [
    ("posthog_exports_deliveries_total", {"status": "succeeded"}),
    ("posthog_exports_deliveries_total", {"status": "failed"}),
    ("posthog_exports_delivery_targets_total", {"channel": "slack", "status": "sent"}),
    ("posthog_exports_delivery_targets_total", {"channel": "slack", "status": "failed"}),
    ("posthog_exports_delivery_targets_total", {"channel": "email", "status": "sent"}),
    ("posthog_exports_render_seconds_count", {"kind": "dashboard"}),
    ("posthog_exports_render_seconds_count", {"kind": "insight"}),
    ("posthog_exports_claim_lag_seconds_count", {}),
    ("posthog_exports_claim_lag_seconds_sum", {}),
    ("posthog_exports_external_errors_total", {"service": "slack", "code": "is_archived"}),
]


def snapshot() -> dict[tuple[str, str], float]:
    return {(name, repr(sorted(labels.items()))): value(name, **labels) for name, labels in SERIES}


def moved(before: dict, name: str, **labels: str) -> float:
    return value(name, **labels) - before[(name, repr(sorted(labels.items())))]


async def test_a_delivery_run_moves_the_delivery_counters_and_the_render_histogram(env: Env) -> None:
    await env.subscribe(channel="C1")
    await env.subscribe(recipients=["ada@example.com", "bob@example.com"])
    await env.subscribe(content_type="insight", ref=INSIGHT, recipients=["cyd@example.com"])
    env.slack.channels["CARCHIVED"] = {"name": "old", "is_archived": True, "is_private": False}
    await env.subscribe(channel="CARCHIVED", ref=DASHBOARD)

    env.clock.set(NINE - timedelta(seconds=1))
    await env.run_tick()
    assert value("posthog_exports_due_unclaimed_subscriptions") == 0  # nothing due yet
    before = snapshot()
    env.clock.set(NINE + timedelta(seconds=30))
    assert len(await env.run_tick()) == 4

    assert moved(before, "posthog_exports_deliveries_total", status="succeeded") == 3
    assert moved(before, "posthog_exports_deliveries_total", status="failed") == 1
    assert moved(before, "posthog_exports_delivery_targets_total", channel="slack", status="sent") == 1
    assert moved(before, "posthog_exports_delivery_targets_total", channel="slack", status="failed") == 1
    assert moved(before, "posthog_exports_delivery_targets_total", channel="email", status="sent") == 3
    assert moved(before, "posthog_exports_external_errors_total", service="slack", code="is_archived") == 1
    # One render per distinct content, however many subscriptions show it.
    assert moved(before, "posthog_exports_render_seconds_count", kind="dashboard") == 1
    assert moved(before, "posthog_exports_render_seconds_count", kind="insight") == 1
    # Four claims, each 30 seconds after its scheduled time (the test clock).
    assert moved(before, "posthog_exports_claim_lag_seconds_count") == 4
    assert moved(before, "posthog_exports_claim_lag_seconds_sum") == pytest.approx(120.0)
    assert value("posthog_exports_due_unclaimed_subscriptions") == 0


async def test_the_queue_depth_counts_due_subscriptions_a_busy_scheduler_leaves(env: Env) -> None:
    for channel in ("C1", "C2", "C3"):
        await env.subscribe(channel=channel)
    env.service.max_in_flight = 1  # room for one delivery per tick
    env.clock.set(NINE)
    assert len(await env.service.tick()) == 1
    assert value("posthog_exports_due_unclaimed_subscriptions") == 2
    await env.service.drain()


async def test_metrics_endpoint_serves_the_counters_in_prometheus_text_format(env: Env) -> None:
    await env.subscribe(recipients=["ada@example.com"])
    env.clock.set(NINE)
    await env.run_tick()

    runner = web.AppRunner(build_web_app(env.settings, env.db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
            body = await response.text()
    finally:
        await runner.cleanup()

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples[("posthog_exports_deliveries_total", (("status", "succeeded"),))] == value(
        "posthog_exports_deliveries_total", status="succeeded"
    ) >= 1
    assert samples[("posthog_exports_render_seconds_count", (("kind", "dashboard"),))] >= 1
    assert ("posthog_exports_due_unclaimed_subscriptions", ()) in samples
    # Only this service's metrics: the dedicated registry has no process or platform collectors.
    assert not [name for name, _labels in samples if not name.startswith("posthog_exports_")]


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        body = await response.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


async def test_metrics_scraped_during_a_fan_out_show_it_moving(env: Env) -> None:
    for channel in ("C1", "C2", "C3", "CSLOW"):
        await env.subscribe(channel=channel)
    for address in ("ada@example.com", "bob@example.com"):
        await env.subscribe(content_type="insight", ref=INSIGHT, recipients=[address])
    env.slack.hold["CSLOW"] = asyncio.Event()  # one channel's post waits: the run is caught in the middle

    runner = web.AppRunner(build_web_app(env.settings, env.db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    sent = ("posthog_exports_delivery_targets_total", (("channel", "slack"), ("status", "sent")))
    emailed = ("posthog_exports_delivery_targets_total", (("channel", "email"), ("status", "sent")))
    done = ("posthog_exports_deliveries_total", (("status", "succeeded"),))
    drawn = ("posthog_exports_render_seconds_count", (("kind", "dashboard"),))
    try:
        before = await scrape(port)
        env.clock.set(NINE + timedelta(seconds=5))
        assert len(await env.service.tick()) == 6
        await asyncio.wait_for(_arrived(env, "CSLOW"), 30)
        await asyncio.wait_for(_targets_sent(env, before, sent, emailed, 5), 30)
        during = await scrape(port)
        env.slack.hold["CSLOW"].set()
        await env.service.drain()
        after = await scrape(port)
    finally:
        await runner.cleanup()

    def change(samples: dict, key: tuple) -> float:
        return samples.get(key, 0.0) - before.get(key, 0.0)

    # Mid-run: both contents drawn once, five of six targets sent, no delivery finished yet (a run finishes its
    # deliveries together, once every send is over).
    assert change(during, drawn) == 1
    assert change(during, sent) + change(during, emailed) == 5 and change(during, done) == 0
    # Then the held post goes out and the run finishes every delivery.
    assert change(after, sent) == 4 and change(after, emailed) == 2 and change(after, done) == 6
    assert change(after, drawn) == 1


async def _arrived(env: Env, channel: str) -> None:
    while channel not in env.slack.arrived:
        await asyncio.sleep(0.01)


async def _targets_sent(env: Env, before: dict, *keys_and_count) -> None:
    *keys, count = keys_and_count
    while sum(value(name, **dict(labels)) - before.get((name, labels), 0.0) for name, labels in keys) < count:
        await asyncio.sleep(0.01)


def test_error_codes_are_bounded_labels() -> None:
    assert metrics.error_code("slack", "channel_not_found") == "channel_not_found"
    assert metrics.error_code("slack", "Slack said something long and free-form") == "other"
    assert metrics.error_code("smtp", "550 5.1.1 mailbox unavailable") == "550"
    assert metrics.error_code("smtp", "the connection was lost") == "other"


@pytest.mark.browser
async def test_the_browser_pool_reports_its_size_and_its_recycles() -> None:
    from core.settings import Settings
    from render import Renderer
    from tests.test_render_browser import load

    recycled = value("posthog_exports_browser_recycles_total", reason="renders")
    async with Renderer(Settings(render_scale=1.0), pool_size=1, recycle_after=1) as renderer:
        assert value("posthog_exports_browser_pool_size") == 1
        await renderer.render_insight(load("trendsNumber"))
        await renderer.render_insight(load("trendsNumber"))  # on the session that replaced the first
        assert value("posthog_exports_browser_recycles_total", reason="renders") >= recycled + 1
        assert value("posthog_exports_browser_pool_size") == 1
    assert value("posthog_exports_browser_pool_size") == 0
