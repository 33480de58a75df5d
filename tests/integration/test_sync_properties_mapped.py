"""The sync's properties over a declared field map (`IntegrationConfig.field_maps`), driven
through the real gate, arbiter and delivery code and a real redis-server, as in
`test_sync_properties`: any platform field (a custom one, or a canonical field whose own
mapping the declared map replaces) to a tool column of another name, with any one-to-one value
map between the platform's values and the tool's, both tools mapped alike.

The tools keep the column's own values (as a connector writes them: through `split_declared`)
and show them crossed back (`join_declared`), so every value travels through the map both
ways, echoes included. People edit any side at any moment, the platform in its values, the
tools in theirs. Checked after every round: no loop (the writes stop, bounded by the edits),
every side shows the same value of the field in the platform's terms, and last-write-wins
picks the newest edit where every edit is dated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from incident_sync.connectors.base import RecordState, Written
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import ChangeKind, FieldChange
from incident_sync.syncmodel.fieldmaps import FieldMap
from incident_sync.syncmodel.fields import ConflictStrategy
from tests.integration.test_sync_properties import (
    Edit,
    SimSide,
    World,
    make_world,
)

pytestmark = pytest.mark.integration
PLATFORM_VALUES = ("a", "b", "c")
COLUMN = "u_mapped"


class MappedTool(SimSide):
    """A tool whose record keeps the mapped column in its own values."""

    def write(
        self,
        external_id: str,
        fields: Mapping[str, str | None],
        actor: str,
        kind: ChangeKind = ChangeKind.UPDATED,
    ) -> datetime:
        old = dict(self.records.get(external_id, {}))
        ts = super().write(external_id, fields, actor, kind)
        event = self.queue[-1]
        changes = {k: c for k, c in event.changes.items() if k != COLUMN}
        if COLUMN in fields:  # the tool's webhook names the column; the connector crosses it
            new = self.join_declared({}, {COLUMN: fields[COLUMN]})
            before = self.join_declared({}, {COLUMN: old.get(COLUMN) or ""})
            for name, value in new.items():
                changes[name] = FieldChange(old=before.get(name), new=value)
        self.queue[-1] = event.model_copy(update={"changes": changes})
        return ts

    async def fetch(self, external_id: str) -> RecordState:
        record = await super().fetch(external_id)
        own = {k: v for k, v in record.fields.items() if k != COLUMN}
        native = {COLUMN: record.fields[COLUMN]} if COLUMN in record.fields else {}
        return RecordState(
            external_id,
            self.join_declared(own, native),
            version=record.version,
            updated_at=record.updated_at,
        )

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        own, native = self.split_declared(fields)
        created = await super().create(platform_incident_id, {**own, **native})
        return RecordState(created.external_id, dict(fields), version=created.version)

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        own, native = self.split_declared(fields)
        return await super().update(external_id, {**own, **native})


def shown(world: World, side_id: str, platform_field: str) -> str | None:
    """The field as the side shows it, in the platform's terms."""
    side = world.sides[side_id]
    record = side.records[world.record_ids[side_id]]
    if side.is_platform:
        return normalize(record.get(platform_field))
    crossed = side.join_declared({}, {COLUMN: record.get(COLUMN)})
    return normalize(crossed.get(platform_field))


async def drain(
    world: World, data: st.DataObject, edits_left: int, platform_field: str, values: dict[str, str]
) -> int:
    steps = 0
    while world.queue or edits_left:
        steps += 1
        assert steps < 600, "the pipeline keeps writing: a loop\n" + "\n".join(world.trace)
        if edits_left and (not world.queue or data.draw(st.booleans(), label="edit now")):
            side_id = data.draw(st.sampled_from(sorted(world.sides)), label="edited side")
            value = data.draw(st.sampled_from(PLATFORM_VALUES), label="value")
            if side_id == "platform":
                world.edit(side_id, platform_field, value)
            else:  # a person sets the tool's own value for it
                edit_tool(world, side_id, values[value], value)
            edits_left -= 1
            continue
        event = world.queue.pop(data.draw(st.integers(0, len(world.queue) - 1), label="deliver"))
        if data.draw(st.booleans(), label="redeliver later"):
            world.queue.append(event)
        world.clock.tick(data.draw(st.sampled_from([0.0, 0.5, 3.0]), label="delay"))
        await world.process(event)
    return edits_left


def edit_tool(world: World, side_id: str, native: str, platform_value: str) -> None:
    side, record_id = world.sides[side_id], world.record_ids[side_id]
    if side.records[record_id].get(COLUMN) == native:
        return
    ts = side.write(record_id, {COLUMN: native}, "alice")
    world.edits.append(Edit(side_id, COLUMN, platform_value, ts))
    world.trace.append(f"{ts:%M:%S} user edits {side_id}: {COLUMN}={native!r}")


@st.composite
def field_maps(draw: st.DrawFn) -> tuple[FieldMap, dict[str, str]]:
    """A declared map of any platform field to the column, with any one-to-one value map."""
    platform_field = draw(
        st.sampled_from(["custom.Team", "custom.Ünïcode field name", "severity", "title"])
    )
    tool_values = draw(st.permutations(["X", "Y", "Z"]))
    values = dict(zip(PLATFORM_VALUES, tool_values, strict=True))
    mapping = FieldMap.model_validate(
        {"platform": platform_field, "tool": COLUMN, "value_map": {"values": values}}
    )
    return mapping, values


async def scenario(redis_port: int, data: st.DataObject) -> None:
    mapping, values = data.draw(field_maps(), label="field map")
    name = mapping.platform
    redis = Redis(port=redis_port)
    world = await make_world(
        redis,
        ConflictStrategy.LAST_WRITE_WINS,
        MappedTool,
        tool_b=MappedTool,
        field_maps=(mapping,),
        fields=("description", name),
    )
    platform = world.sides["platform"]
    platform.write("INC1", {"description": "d0", name: "a"}, "alice", ChangeKind.CREATED)
    await drain(world, data, 0, name, values)
    creates = sum(s.sync_writes for s in world.sides.values())
    assert {shown(world, s, name) for s in world.sides} == {"a"}, "\n".join(world.trace)
    assert world.sides["tool-a"].records["tool-a-INC1"][COLUMN] == values["a"]
    user_edits = 0
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        world.clock.tick(60)
        world.edits.clear()
        world.snapshots = 0
        budget = data.draw(st.integers(1, 4), label="edits")
        user_edits += budget
        await drain(world, data, budget, name, values)
        trace = "\n".join(world.trace)
        seen = {shown(world, s, name) for s in world.sides}
        assert len(seen) == 1, f"{name} diverged: {seen}\n{trace}"
        if world.edits and world.snapshots <= 1:  # every edit dated (see test_sync_properties)
            best = max(world.edits, key=lambda e: (e.ts, e.side == "platform", e.side))
            assert seen == {best.value}, f"{seen} is not the newest edit {best}\n{trace}"
    writes = sum(s.sync_writes for s in world.sides.values())
    assert writes <= creates + user_edits * len(world.sides) + 2, "\n".join(world.trace)
    await redis.aclose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mapped_field_converges_through_its_value_map_without_loops(
    redis_port: int, data: st.DataObject
) -> None:
    asyncio.run(scenario(redis_port, data))


def test_the_simulated_tool_keeps_the_columns_own_values(redis_port: int) -> None:
    """The scenario's premise: what reaches a tool is its own value, not the platform's."""

    async def run() -> None:
        redis = Redis(port=redis_port)
        mapping = FieldMap.model_validate(
            {"platform": "custom.Team", "tool": COLUMN, "value_map": {"values": {"a": "X"}}}
        )
        world = await make_world(
            redis,
            ConflictStrategy.LAST_WRITE_WINS,
            MappedTool,
            tool_b=MappedTool,
            field_maps=(mapping,),
            fields=("description", "custom.Team"),
        )
        created = {"description": "d", "custom.Team": "a"}
        world.sides["platform"].write("INC1", created, "alice", ChangeKind.CREATED)
        while world.queue:
            await world.process(world.queue.pop(0))
        assert world.sides["tool-b"].records["tool-b-INC1"][COLUMN] == "X"
        assert "custom.Team" not in world.sides["tool-b"].records["tool-b-INC1"]
        await redis.aclose()

    asyncio.run(run())
