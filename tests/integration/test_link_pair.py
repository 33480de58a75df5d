"""`syncstate.links.link_pair`, an operator's link of one existing record to one incident,
on a real redis-server and a Redis Cluster: both ways or nothing, never over another link."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from incident_sync.syncstate import keys, links
from incident_sync.syncstate.client import connect

pytestmark = pytest.mark.integration


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


async def _both_ways(redis_url: str, tenant: str) -> tuple[str | None, str | None]:
    redis = connect(redis_url)
    try:
        record_side = _s(await redis.get(keys.link(tenant, "snow", "sys1")))
        incident_side = _s(await redis.hget(keys.links(tenant, "INC-A"), "snow"))
        return record_side, incident_side
    finally:
        await redis.aclose()


def test_a_pair_is_linked_both_ways_once_and_its_detachment_ends(redis_url: str) -> None:
    tenant = uuid.uuid4().hex[:12]

    async def scenario() -> list[links.PairLink]:
        redis = connect(redis_url)
        try:
            await redis.hset(keys.detached(tenant, "INC-A"), "snow", "sys0")
            first = await links.link_pair(redis, tenant, "INC-A", "snow", "sys1")
            again = await links.link_pair(redis, tenant, "INC-A", "snow", "sys1")
            assert await redis.hget(keys.detached(tenant, "INC-A"), "snow") is None
            return [first, again]
        finally:
            await redis.aclose()

    first, again = asyncio.run(scenario())
    assert (first.result, again.result) == ("linked", "unchanged")
    assert asyncio.run(_both_ways(redis_url, tenant)) == ("INC-A", "sys1")


def test_a_link_elsewhere_is_named_and_never_moved(redis_url: str) -> None:
    tenant = uuid.uuid4().hex[:12]

    async def scenario() -> tuple[links.PairLink, links.PairLink]:
        redis = connect(redis_url)
        try:
            assert (await links.link_pair(redis, tenant, "INC-A", "snow", "sys1")).result == (
                "linked"
            )
            moved = await links.link_pair(redis, tenant, "INC-B", "snow", "sys1")
            doubled = await links.link_pair(redis, tenant, "INC-A", "snow", "sys2")
            assert await redis.get(keys.link(tenant, "snow", "sys2")) is None
            assert await redis.hget(keys.links(tenant, "INC-B"), "snow") is None
            return moved, doubled
        finally:
            await redis.aclose()

    moved, doubled = asyncio.run(scenario())
    assert moved == links.PairLink("taken", record_incident="INC-A")
    assert doubled == links.PairLink("taken", incident_record="sys1")
    assert asyncio.run(_both_ways(redis_url, tenant)) == ("INC-A", "sys1")


def test_a_pair_linked_one_way_only_is_completed(redis_url: str) -> None:
    tenant = uuid.uuid4().hex[:12]

    async def scenario() -> links.PairLink:
        redis = connect(redis_url)
        try:
            await redis.set(keys.link(tenant, "snow", "sys1"), "INC-A")
            return await links.link_pair(redis, tenant, "INC-A", "snow", "sys1")
        finally:
            await redis.aclose()

    assert asyncio.run(scenario()).result == "linked"
    assert asyncio.run(_both_ways(redis_url, tenant)) == ("INC-A", "sys1")
