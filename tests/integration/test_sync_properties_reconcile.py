"""The sync's properties when a tool stores its own form of values and the reconciler runs
at any moment: for any interleaving of people's edits, webhook deliveries and auto-heal runs,
all sides converge and nothing writes in a loop, the reconciler included.

The sides and the pipeline are those of `test_sync_properties` (the real gate, arbiter and
delivery over a real redis-server), with one tool that, like real ones, does not store what it
is sent: it collapses runs of spaces (a ServiceNow business rule), keeps 8 characters of a
value (a fixed-size column; our connector cuts to that limit first, visibly) and fills its own
default in for an empty value (Jira's priority, PagerDuty's assignee). Its write answers say
what it stored, as the real tools' do. The reconciler is the real engine (compare, heal,
unhealable judgement) on the same redis-server, its corrective changes queued like webhooks.

Checked after every round: each side shows the newest edit as it stores it; two more
reconcile runs after the pipeline went quiet find nothing to heal and write nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from incident_sync.connectors.base import Connector, RecordState, Written
from incident_sync.controlstore.source import FileSource
from incident_sync.reconciler.engine import Engine
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind
from incident_sync.syncmodel.fields import ConflictStrategy
from incident_sync.syncmodel.limits import cut
from incident_sync.syncmodel.mapping import FieldMapping, default_mapping
from incident_sync.syncstate.links import LinkView
from incident_sync.syncstate.reconcile import ReconcileRun, RunMode
from tests.integration.test_sync_properties import FIELDS, Edit, SimSide, World, make_world

pytestmark = pytest.mark.integration
LIMIT = 8
DEFAULT = "n/a"
VALUES = st.sampled_from(["a", "b", "a  b", "a b", "", "a much longer value", "c  "])


class Normalising(SimSide):
    """A tool that stores its own form of every value, and says so in its write answers."""

    LIMITS = {name: LIMIT for name in FIELDS}

    @staticmethod
    def store(value: str | None) -> str:
        if not value or not value.strip():
            return DEFAULT  # its default where nothing is given
        return re.sub(r" {2,}", " ", value).strip()[:LIMIT]

    def write(
        self,
        external_id: str,
        fields: Mapping[str, str | None],
        actor: str,
        kind: ChangeKind = ChangeKind.UPDATED,
    ) -> datetime:
        stored = {k: self.store(v) if k in FIELDS else v for k, v in fields.items()}
        if kind is ChangeKind.CREATED:
            stored = {**{f: DEFAULT for f in FIELDS}, **stored}
        return super().write(external_id, stored, actor, kind)

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        record = await super().create(platform_incident_id, await self.fit(fields))
        shown = self.records[record.external_id]
        fields = {f: shown.get(f) for f in FIELDS}
        return RecordState(record.external_id, fields, version=record.version)

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        written = await super().update(external_id, await self.fit(fields))
        shown = self.records[external_id]
        return Written(written.version, {k: shown.get(k) for k in fields if k in FIELDS})


class SimSides(Sides):
    """The reconciler's sides: the simulated connectors."""

    def __init__(self, config: SyncConfig, sims: Mapping[str, SimSide]) -> None:
        super().__init__(FileSource(""), config)
        self.sims = sims

    def connector(self, side_id: str) -> Connector:
        return self.sims[side_id]

    def mapping(self, side_id: str) -> FieldMapping:
        return default_mapping()


class QueuePublisher(Publisher):
    """Corrective changes go where the simulated webhooks go."""

    def __init__(self, queue: list[ChangeEvent]) -> None:
        super().__init__(ReconcilerSettings())
        self.queue = queue
        self.sent = 0

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        self.sent += len(events)
        self.queue.extend(events)


def shown(world: World, side_id: str) -> dict[str, str]:
    record = world.sides[side_id].records[world.record_ids[side_id]]
    return {f: normalize(record.get(f)) for f in FIELDS}


def as_stored(side: SimSide, value: str) -> str:
    """`value` as `side` shows it once the pipeline wrote it there (cut to fit first)."""
    if isinstance(side, Normalising):
        return normalize(side.store(cut(value, LIMIT)))
    return normalize(value)


def edit(world: World, side_id: str, name: str, value: str) -> None:
    """A person's edit, recorded as the side stores it."""
    side, record_id = world.sides[side_id], world.record_ids[side_id]
    current = side.records[record_id].get(name)
    kept = side.store(value) if isinstance(side, Normalising) else value
    if current == kept:
        return
    ts = side.write(record_id, {name: value}, "alice")
    if normalize(current) != normalize(kept):
        world.edits.append(Edit(side_id, name, kept, ts))
    world.trace.append(f"{ts:%M:%S} user edits {side_id}: {name}={value!r}")


async def reconcile(world: World, engine: Engine, integration: str) -> ReconcileRun:
    """One auto-heal run."""
    run = await engine.run(ReconcileRun(integration=integration, mode=RunMode.AUTO_HEAL))
    assert run.error is None, run.error
    found = [(d.field, d.heal.value) for d in run.discrepancies]
    world.trace.append(f"{world.clock.now:%M:%S} reconcile {integration}: {found}")
    if any(d.heal.value == "unhealable" for d in run.discrepancies):
        hypothesis.event("a heal judged unhealable")
    if run.fixes:
        hypothesis.event("a heal sent while webhooks were in flight")
    return run


async def drain(
    world: World, engine: Engine, data: st.DataObject, edits_left: int, runs_left: int = 2
) -> int:
    """Deliver queued events in any order, some twice; people edit and the reconciler runs
    (up to `runs_left` times) meanwhile. Returns the corrective changes the runs sent."""
    steps, fixes = 0, 0
    while world.queue or edits_left:
        steps += 1
        assert steps < 600, "the pipeline keeps writing: a loop\n" + "\n".join(world.trace)
        if runs_left and data.draw(st.integers(0, 5), label="reconcile now") == 0:
            runs_left -= 1
            tool = data.draw(st.sampled_from(["tool-a", "tool-b"]), label="reconciled")
            fixes += (await reconcile(world, engine, tool)).fixes
            continue
        if edits_left and (not world.queue or data.draw(st.booleans(), label="edit now")):
            side = data.draw(st.sampled_from(sorted(world.sides)), label="edited side")
            edit(world, side, data.draw(st.sampled_from(FIELDS)), data.draw(VALUES))
            edits_left -= 1
            continue
        event = world.queue.pop(data.draw(st.integers(0, len(world.queue) - 1), label="deliver"))
        if data.draw(st.booleans(), label="redeliver later"):
            world.queue.append(event)
        world.clock.tick(data.draw(st.sampled_from([0.0, 0.5, 3.0]), label="delay"))
        await world.process(event)
    return fixes


async def scenario(redis_port: int, data: st.DataObject) -> None:
    redis = Redis(port=redis_port)
    world = await make_world(redis, ConflictStrategy.LAST_WRITE_WINS, tool_a=Normalising)
    config = world.gate.ctx.config
    publisher = QueuePublisher(world.queue)
    engine = Engine(SimSides(config, world.sides), LinkView(redis), publisher, "prop")
    platform = world.sides["platform"]
    platform.write("INC1", {"title": "t0  x", "description": ""}, "alice", ChangeKind.CREATED)
    await drain(world, engine, data, 0)
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        world.clock.tick(60)
        world.edits.clear()
        fixes = await drain(world, engine, data, data.draw(st.integers(1, 4), label="edits"))
        trace = "\n".join(world.trace)
        views = {s: shown(world, s) for s in world.sides}
        for name in FIELDS:
            value = views["platform"][name]
            for side_id, side in world.sides.items():
                assert views[side_id][name] == as_stored(side, value), f"{name}: {views}\n{trace}"
            # Exactly the newest edit wins where every edit is dated: a heal sent while an
            # edit's webhook was in flight dates that edit by its record's update time, a
            # full snapshot's (the platform's) every field by it (documented limits).
            platform_edits = sum(e.side == "platform" for e in world.edits)
            mine = [e for e in world.edits if e.field == name]
            if platform_edits <= 1 and not fixes and mine:
                best = max(mine, key=lambda e: (e.ts, e.side == "platform", e.side))
                side = world.sides[best.side]
                assert as_stored(side, value) == normalize(best.value), f"{name}\n{trace}"
        # Quiet now: the reconciler finds nothing to heal, and nothing is written.
        writes = sum(s.sync_writes for s in world.sides.values())
        sent = publisher.sent
        for tool in ("tool-a", "tool-b", "tool-a"):
            run = await reconcile(world, engine, tool)
            assert run.discrepancies == [], f"{run.discrepancies}\n{trace}"
            await drain(world, engine, data, 0, runs_left=0)
        assert publisher.sent == sent, "a corrective change after convergence\n" + trace
        assert sum(s.sync_writes for s in world.sides.values()) == writes, trace
    await redis.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_tools_storing_their_own_form_and_the_reconciler_converge_without_loops(
    redis_port: int, data: st.DataObject
) -> None:
    asyncio.run(scenario(redis_port, data))
