"""A record we create holds nothing in the fields the create sent nothing for, and the
pipeline knows it: a later change of the tool's that carries such a field still empty (a
snapshot, or a person "clearing" an empty field) is no change, so it does not take back a
newer edit of the platform's still on its way. Found by the property test of
`test_sync_properties_reconcile`; here as one fixed interleaving on the real gate, arbiter
and delivery over a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from incident_sync.syncmodel.events import ChangeKind
from incident_sync.syncmodel.fields import ConflictStrategy
from tests.integration.test_sync_properties import make_world

pytestmark = pytest.mark.integration


async def scenario(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await make_world(redis, ConflictStrategy.LAST_WRITE_WINS)
    platform, tool = world.sides["platform"], world.sides["tool-b"]
    platform.write("INC1", {"title": "t", "description": ""}, "alice", ChangeKind.CREATED)
    while world.queue:
        await world.process(world.queue.pop(0))
    assert "description" not in tool.records["tool-b-INC1"]  # the create sent nothing there
    world.clock.tick(60)
    world.edit("platform", "description", "a")
    on_its_way = world.queue.pop()
    tool.write("tool-b-INC1", {"description": ""}, "alice")  # still empty, as it was
    while world.queue:
        await world.process(world.queue.pop(0))
    await world.process(on_its_way)
    while world.queue:  # the echoes of what that wrote
        await world.process(world.queue.pop(0))
    await redis.aclose()
    return {
        s: side.records[world.record_ids[s]].get("description") for s, side in world.sides.items()
    }


def test_an_empty_field_of_a_created_record_takes_back_no_newer_edit(redis_port: int) -> None:
    shown = asyncio.run(scenario(redis_port))
    assert shown == {"platform": "a", "tool-a": "a", "tool-b": "a"}, shown
