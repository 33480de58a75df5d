"""Fixed interleavings the property tests of `test_sync_properties*` once found wrong, on the
real gate, arbiter and delivery over a real redis-server.

A record we create holds nothing in the fields the create sent nothing for, and the
pipeline knows it: a later change of the tool's that carries such a field still empty (a
snapshot, or a person "clearing" an empty field) is no change, so it does not take back a
newer edit of the platform's still on its way.

A snapshot taken before several writes of ours in a row landed shows the value a person set
before the first of them: old, not an edit (what our write replaces is what a person last
set, `outbound.recordstate.last_set_by_a_person`), and one showing a previous write of ours is
not a person's edit either; but one taken after the first of them that shows the person's
value again shows it set again, and one taken before a write of ours that shows its value shows
a person's: both are edits (the state keeps our writes in a row with the versions they made,
and an echo fingerprint is consumed only at its write's version or later)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from redis.asyncio import Redis

from incident_sync.connectors.base import ToolError, Written
from incident_sync.syncmodel.events import ChangeKind, DeliveryCommand
from incident_sync.syncmodel.fields import ConflictStrategy
from tests.integration.test_sync_properties import SimSide, World, make_world

pytestmark = pytest.mark.integration


async def drain(world: World) -> None:
    """Deliver every queued webhook in order, with those their processing queues."""
    while world.queue:
        await world.process(world.queue.pop(0))


async def created(redis: Redis, fields: dict[str, str | None]) -> World:
    """A last-write-wins world where alice created INC1 with `fields`, synced everywhere."""
    world = await make_world(redis, ConflictStrategy.LAST_WRITE_WINS)
    world.sides["platform"].write("INC1", fields, "alice", ChangeKind.CREATED)
    await drain(world)
    return world


def shown_on_each(world: World, field: str) -> dict[str, str | None]:
    """What each side's record of INC1 shows in `field`."""
    return {s: side.records[world.record_ids[s]].get(field) for s, side in world.sides.items()}


async def scenario(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await make_world(redis, ConflictStrategy.LAST_WRITE_WINS)
    platform, tool = world.sides["platform"], world.sides["tool-b"]
    platform.write("INC1", {"title": "t", "description": ""}, "alice", ChangeKind.CREATED)
    await drain(world)
    assert "description" not in tool.records["tool-b-INC1"]  # the create sent nothing there
    world.clock.tick(60)
    world.edit("platform", "description", "a")
    on_its_way = world.queue.pop()
    tool.write("tool-b-INC1", {"description": ""}, "alice")  # still empty, as it was
    await drain(world)
    await world.process(on_its_way)
    await drain(world)  # the echoes of what that wrote
    await redis.aclose()
    return shown_on_each(world, "description")


def test_an_empty_field_of_a_created_record_takes_back_no_newer_edit(redis_port: int) -> None:
    shown = asyncio.run(scenario(redis_port))
    assert shown == {"platform": "a", "tool-a": "a", "tool-b": "a"}, shown


async def writes_in_a_row(redis_port: int) -> dict[str, tuple[str | None, str | None]]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-a", "description", "a")
    world.edit("tool-a", "description", "b")
    world.edit("platform", "title", "x")  # its snapshot still shows d0
    snapshot = world.queue.pop()
    await drain(world)  # tool-a's two edits: two writes of ours in a row on the platform
    await world.process(snapshot)
    await drain(world)
    await redis.aclose()
    return {
        s: (
            side.records[world.record_ids[s]].get("title"),
            side.records[world.record_ids[s]].get("description"),
        )
        for s, side in world.sides.items()
    }


def test_a_snapshot_older_than_our_writes_in_a_row_takes_nothing_back(redis_port: int) -> None:
    shown = asyncio.run(writes_in_a_row(redis_port))
    assert shown == {s: ("x", "b") for s in ("platform", "tool-a", "tool-b")}, shown


async def snapshot_of_our_previous_write(redis_port: int) -> dict[str, tuple[str | None, ...]]:
    redis = Redis(port=redis_port)
    world = await make_world(redis, ConflictStrategy.LAST_WRITE_WINS)
    platform = world.sides["platform"]
    platform.write("INC1", {"title": "t0", "description": "d0"}, "alice", ChangeKind.CREATED)
    for side, value in (("platform", "p"), ("tool-a", "b")):  # b is ours on the platform
        world.clock.tick(60)
        world.edit(side, "title", value)
        await drain(world)
    world.clock.tick(60)
    world.edit("tool-a", "title", "c")
    world.edit("platform", "description", "x")  # its snapshot still shows our b
    snapshot = world.queue.pop()
    await drain(world)
    await world.process(snapshot)
    await drain(world)
    await redis.aclose()
    return {
        s: tuple(side.records[world.record_ids[s]].get(f) for f in ("title", "description"))
        for s, side in world.sides.items()
    }


def test_a_snapshot_showing_our_previous_write_takes_it_not_back(redis_port: int) -> None:
    shown = asyncio.run(snapshot_of_our_previous_write(redis_port))
    assert shown == {s: ("c", "x") for s in ("platform", "tool-a", "tool-b")}, shown


async def person_sets_back_between_our_writes(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-a", "description", "a")  # our first write on the platform: d0 -> a
    await drain(world)
    world.clock.tick(1)
    world.edit("tool-a", "description", "b")
    older = world.queue.pop()
    world.clock.tick(1)
    world.edit("platform", "description", "d0")  # a person sets d0 again, after our a
    snapshot = world.queue.pop()
    await world.process(older)  # our second write, b, lands on the person's d0
    await drain(world)
    await world.process(snapshot)  # shows d0: newer than our a, so an edit
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "description")


def test_a_person_setting_back_the_value_before_our_writes_is_an_edit(redis_port: int) -> None:
    shown = asyncio.run(person_sets_back_between_our_writes(redis_port))
    assert shown == {s: "d0" for s in ("platform", "tool-a", "tool-b")}, shown


async def person_sets_our_later_value_first(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-a", "title", "b")
    world.clock.tick(1)
    world.edit("tool-a", "title", "a")
    world.clock.tick(1)
    world.edit("platform", "title", "b")  # the newest edit, before either of ours lands
    snapshot = world.queue.pop()
    await drain(world)  # our two writes in a row on the platform: b, then a
    await world.process(snapshot)  # older than both: its b is the person's, not ours
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "title")


def test_a_snapshot_older_than_our_writes_showing_a_value_we_wrote_later_is_an_edit(
    redis_port: int,
) -> None:
    shown = asyncio.run(person_sets_our_later_value_first(redis_port))
    assert shown == {s: "b" for s in ("platform", "tool-a", "tool-b")}, shown


async def snapshot_before_the_echoes(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-a", "title", "a")  # ours on the platform from now on: a row begins
    await drain(world)
    world.clock.tick(60)
    world.edit("tool-b", "title", "b")
    world.clock.tick(1)
    world.edit("tool-b", "title", "a")
    world.clock.tick(1)
    world.edit("platform", "title", "b")  # the newest edit, before either of ours lands
    snapshot = world.queue.pop()
    first, second = world.queue.pop(0), world.queue.pop(0)
    await world.process(first)  # we write b, then a, on the platform and tool-a
    await world.process(second)
    await world.process(snapshot)  # before the echoes of our b: its b is the person's
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "title")


def test_a_snapshot_between_our_writes_in_a_row_shows_the_write_before_it(
    redis_port: int,
) -> None:
    """It takes no echo fingerprint of a later write, and what it shows is compared with the
    write of ours before it, not the one our last write replaced."""
    shown = asyncio.run(snapshot_before_the_echoes(redis_port))
    assert shown == {s: "b" for s in ("platform", "tool-a", "tool-b")}, shown


async def person_sets_our_earlier_value_again(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-b", "description", "b")
    tool_b_edit = world.queue.pop()
    world.clock.tick(1)
    world.edit("platform", "description", "a")  # newer: it wins, where b landed too
    platform_edit = world.queue.pop()
    await world.process(tool_b_edit)  # our b on the platform, its echo still on its way
    await world.process(platform_edit)  # our a over it
    world.clock.tick(60)
    world.edit("platform", "description", "b")  # a person, after both of ours
    await world.process(world.queue.pop())  # before the echo of our b
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "description")


def test_a_person_setting_a_value_we_wrote_before_our_last_write_is_an_edit(
    redis_port: int,
) -> None:
    """Our later write replaced the earlier one's value: its echo fingerprint goes (its echo
    is known by its version), so the person's b is not taken for that echo."""
    shown = asyncio.run(person_sets_our_earlier_value_again(redis_port))
    assert shown == {s: "b" for s in ("platform", "tool-a", "tool-b")}, shown


async def person_sets_our_value_back_after_their_own(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-b", "description", "x")
    await world.process(world.queue.pop())  # our x on the platform, its echo on its way
    world.clock.tick(60)
    world.edit("platform", "description", "a")  # a person's, after ours
    await world.process(world.queue.pop())
    world.clock.tick(60)
    world.edit("platform", "description", "x")  # the person again, before our x's echo
    await world.process(world.queue.pop())
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "description")


def test_a_person_setting_our_value_again_after_their_own_edit_is_an_edit(
    redis_port: int,
) -> None:
    """A value seen in the field after our write ends that write's echo fingerprint."""
    shown = asyncio.run(person_sets_our_value_back_after_their_own(redis_port))
    assert shown == {s: "x" for s in ("platform", "tool-a", "tool-b")}, shown


class Unavailable:
    """Makes a side's next update fail as a 503 would, before anything is written."""

    def __init__(self, side: SimSide) -> None:
        self.side, self.update, self.down = side, side.update, False
        side.update = self._update  # type: ignore[method-assign]

    async def _update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        if self.down:
            self.down = False
            raise ToolError("unavailable", status=503, retryable=True)
        return await self.update(external_id, fields)


async def person_sets_the_value_of_our_failed_write(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "t0", "description": "d0"})
    platform = Unavailable(world.sides["platform"])
    failed: list[DeliveryCommand] = []
    world.clock.tick(60)
    world.edit("tool-b", "description", "a")
    platform.down = True  # our a to the platform fails: its fingerprint stays, no version
    await world.process(world.queue.pop(), failed)
    assert len(failed) == 1, world.trace
    world.clock.tick(60)
    world.edit("tool-b", "description", "b")
    await drain(world)  # our b on the platform, and its echo
    world.clock.tick(60)
    world.edit("platform", "description", "a")  # a person, after our b
    await drain(world)
    for cmd in failed:  # the retry of our a, too late: superseded
        await world.delivery.process(cmd)
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "description")


def test_a_person_setting_the_value_of_our_failed_write_after_a_later_one_is_an_edit(
    redis_port: int,
) -> None:
    """A write that failed leaves its fingerprint without a version (it may have landed), so
    the gate's read cannot tell it ended: our later write there drops it (delivery's
    `superseded`), and the person's a is not taken for its echo."""
    shown = asyncio.run(person_sets_the_value_of_our_failed_write(redis_port))
    assert shown == {s: "a" for s in ("platform", "tool-a", "tool-b")}, shown


async def set_back_delivered_first(redis_port: int) -> dict[str, str | None]:
    redis = Redis(port=redis_port)
    world = await created(redis, {"title": "a", "description": "d0"})
    world.clock.tick(60)
    world.edit("tool-b", "title", "b")
    world.edit("tool-a", "title", "c")
    world.edit("tool-b", "title", "a")  # the newest edit: back to the value every side holds
    back, changed, set_back = world.queue.pop(0), world.queue.pop(0), world.queue.pop(0)
    for event in (set_back, changed, back):  # tool-b's deliveries come newest first
        await world.process(event)
    await drain(world)
    await redis.aclose()
    return shown_on_each(world, "title")


def test_a_person_setting_a_value_back_beats_an_older_edit_elsewhere(redis_port: int) -> None:
    """tool-b's person sets the title to b, then back to a (what all show); tool-a's person
    sets c between the two. tool-b's second webhook comes first: it shows what we know, but
    its old value (b) says the field was changed meanwhile, so it is an edit, dated after
    tool-a's: last-write-wins keeps a everywhere (once this was dropped as no news, and
    tool-a's older c overwrote the newest edit)."""
    shown = asyncio.run(set_back_delivered_first(redis_port))
    assert shown == {"platform": "a", "tool-a": "a", "tool-b": "a"}, shown
