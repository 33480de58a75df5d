"""The throttle in front of every request to a tool, on a real redis-server, with two throttles
standing for two workers: the rate limit and the concurrency cap are shared through Redis, a
tool's Retry-After holds every worker, and the circuit breaker opens after transient
failures, ignores refusals, and probes before it closes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from incident_sync.connectors.base import ToolError
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.outbound.stages.delivery.throttle import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Deferred,
    Throttle,
)
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncstate.client import connect

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def throttle(redis: Redis, redis_url: str, side: IntegrationConfig, **settings: Any) -> Throttle:
    conf = DeliverySettings(**{"DELIVERY_INLINE_WAIT_S": 0.1, **settings})
    return Throttle(redis, redis_url, conf, lambda _: side)


def tool(**kw: Any) -> IntegrationConfig:
    return IntegrationConfig(id="prod-snow", type="servicenow", base_url="http://x", **kw)


async def call(g: Throttle, fail: ToolError | None = None) -> None:
    async with g.request("default", "prod-snow"):
        if fail is not None:
            raise fail


async def test_the_rate_limit_is_shared_by_every_worker(redis: Redis, redis_url: str) -> None:
    side = tool(rate_limit_per_minute=4)
    a, b = throttle(redis, redis_url, side), throttle(redis, redis_url, side)
    for g in (a, b, a, b):
        await call(g)
    with pytest.raises(Deferred) as deferred:
        await call(b)
    assert deferred.value.reason == "rate_limited"
    assert 55 <= deferred.value.until - time.time() <= 62  # the oldest request leaves the window


async def test_the_concurrency_cap_holds_across_workers(redis: Redis, redis_url: str) -> None:
    side = tool(max_concurrency=1)
    a, b = throttle(redis, redis_url, side), throttle(redis, redis_url, side)
    async with a.request("default", "prod-snow"):
        with pytest.raises(Deferred) as deferred:
            await call(b)
        assert deferred.value.reason == "concurrency"
    await call(b)  # the lease is back


async def test_a_retry_after_holds_every_worker_until_then(redis: Redis, redis_url: str) -> None:
    a = throttle(redis, redis_url, tool())
    b = throttle(redis, redis_url, tool(), DELIVERY_INLINE_WAIT_S=0.3)
    with pytest.raises(ToolError):
        await call(a, ToolError("429", status=429, retryable=True, retry_after_s=0.6))
    until = await b.blocked_until("default", "prod-snow")
    assert until is not None and 0.4 < until - time.time() <= 0.6
    with pytest.raises(Deferred) as deferred:
        await call(b)  # longer than b waits in place: the command waits elsewhere
    assert deferred.value.reason == "blocked" and deferred.value.until >= until
    await asyncio.sleep(max(0.0, until - time.time() - 0.2))
    await call(b)  # the rest is short: waited out in place, and nothing leaves before then
    assert time.time() >= until


async def test_the_circuit_opens_on_transient_failures_and_probes_before_closing(
    redis: Redis, redis_url: str
) -> None:
    g = throttle(redis, redis_url, tool(), BREAKER_FAILURES=3, BREAKER_OPEN_S=0.3)
    down = ToolError("HTTP 503", status=503, retryable=True)
    refused = ToolError("HTTP 400", status=400, retryable=False)
    for fail in (down, down, refused, down, down):  # a refusal is an answer: the count restarts
        with pytest.raises(ToolError):
            await call(g, fail)
    assert g.circuit_state("prod-snow") == CLOSED
    with pytest.raises(ToolError):
        await call(g, down)
    assert g.circuit_state("prod-snow") == OPEN
    with pytest.raises(Deferred) as deferred:
        await call(g)  # nothing leaves while it is open
    assert deferred.value.reason == "circuit_open"
    await asyncio.sleep(0.35)
    assert g.circuit_state("prod-snow") == HALF_OPEN
    with pytest.raises(ToolError):
        await call(g, down)  # the probe fails: open again
    assert g.circuit_state("prod-snow") == OPEN
    await asyncio.sleep(0.35)
    await call(g)  # the probe succeeds
    assert g.circuit_state("prod-snow") == CLOSED


async def test_a_breaker_opened_while_a_request_waited_for_its_lease_defers_it(
    redis: Redis, redis_url: str
) -> None:
    # One lease: the second request passes the breaker's check, then waits for the lease
    # while the first one's failure opens the breaker. It must be deferred, not fail.
    g = throttle(
        redis,
        redis_url,
        tool(max_concurrency=1),
        BREAKER_FAILURES=1,
        BREAKER_OPEN_S=5,
        DELIVERY_INLINE_WAIT_S=2,
    )
    first_inside, fail_now = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with g.request("default", "prod-snow"):
            first_inside.set()
            await fail_now.wait()
            raise ToolError("HTTP 503", status=503, retryable=True)

    one = asyncio.create_task(first())
    await first_inside.wait()
    two = asyncio.create_task(call(g))
    await asyncio.sleep(0.1)  # the second is waiting for the lease, past the breaker check
    fail_now.set()
    with pytest.raises(ToolError):
        await one
    with pytest.raises(Deferred) as deferred:
        await two
    assert deferred.value.reason == "circuit_open"
    assert deferred.value.until >= time.time() + 4
