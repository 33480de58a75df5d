"""The workers' breaker reports and consumer lag in Redis (`syncstate.health`), on one
redis-server and on a Redis Cluster: a report replaces the worker's last, an expired one is
dropped by the next write, the hash goes with the last report, and the lag expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from incident_sync.syncmodel.breakers import BreakerReport, worst
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.health import ConsumerLag, Health

pytestmark = pytest.mark.integration

TENANT = "health"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.delete(keys.breakers(TENANT, "prod-snow"))
    await client.delete(keys.CONSUMER_LAG)
    yield client
    await client.aclose()


def report(worker: str, state: str, ttl_s: float) -> BreakerReport:
    now = time.time()
    return BreakerReport(worker, state, at=now, expires_at=now + ttl_s)  # type: ignore[arg-type]


async def test_each_worker_has_one_report_and_a_dead_ones_goes(redis: Redis) -> None:
    health = Health(redis)
    await health.report_breaker(TENANT, "prod-snow", report("w-1", "closed", 10))
    await health.report_breaker(TENANT, "prod-snow", report("w-dead", "open", 0.3))
    await health.report_breaker(TENANT, "prod-snow", report("w-1", "half-open", 10))
    found = await health.breakers(TENANT, "prod-snow")
    assert sorted((r.worker, r.state) for r in found) == [("w-1", "half-open"), ("w-dead", "open")]
    assert worst(found, time.time()) == "open"
    await asyncio.sleep(0.4)
    assert worst(await health.breakers(TENANT, "prod-snow"), time.time()) == "half-open"
    await health.report_breaker(TENANT, "prod-snow", report("w-1", "closed", 0.5))
    # The write dropped the dead worker's field: its report is gone from Redis, not only
    # ignored by the reader.
    assert await redis.hkeys(keys.breakers(TENANT, "prod-snow")) in ([b"w-1"], ["w-1"])
    await asyncio.sleep(0.7)
    # No worker left: the hash expired with the last report.
    assert await redis.exists(keys.breakers(TENANT, "prod-snow")) == 0
    assert worst(await health.breakers(TENANT, "prod-snow"), time.time()) == "unknown"


async def test_the_consumer_lag_is_the_last_measure_until_it_expires(redis: Redis) -> None:
    health = Health(redis)
    assert await health.consumer_lag() is None
    lag = ConsumerLag(group="outbound", topics={"sync.outbound": 3, "sync.linked": 1}, at=1.0)
    await health.report_consumer_lag(lag, ttl_s=0.4)
    read = await health.consumer_lag()
    assert read == lag and read.messages == 4
    await asyncio.sleep(0.5)
    assert await health.consumer_lag() is None
