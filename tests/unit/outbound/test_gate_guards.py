"""Each of the gate's pure guards alone, on a hand-made screening (no Redis: the store points
at a closed port, so a guard that touched it would fail), and the chain's documented order."""

from __future__ import annotations

import re
from pathlib import Path

from redis.asyncio import Redis

from incident_sync.outbound.comments import Comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.recordstate import KnownState
from incident_sync.outbound.stages.gate import guards
from incident_sync.outbound.stages.gate.read import GateRead, GateReader
from incident_sync.outbound.stages.gate.screening import Screening
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin

ROOT = Path(__file__).resolve().parents[3]
STORE = StateStore(Redis(host="127.0.0.1", port=1))  # nothing listens: no I/O allowed


def config(direction: str = "bidirectional") -> SyncConfig:
    return SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
        integrations=(
            IntegrationConfig(
                id="prod-snow",
                type="servicenow",
                base_url="http://sn",
                actor="incident-sync",
                direction=direction,
            ),
        ),
    )


def event(
    title: str = "A",
    *,
    integration: str = "prod-snow",
    version: int = 5,
    actor: str | None = "john.smith",
    pid: str | None = None,
    kind: ChangeKind = ChangeKind.UPDATED,
    origin: Origin = Origin.USER,
) -> ChangeEvent:
    return ChangeEvent(
        delivery_id="d1",
        integration_id=integration,
        external_id="sys1",
        kind=kind,
        changes={"title": FieldChange(new=title)},
        version=f"{version:010d}",
        actor=actor,
        platform_incident_id=pid,
        origin=origin,
    )


def read(
    fields: dict[str, str | None] | None = None,
    *,
    version: int | None = None,
    ours: set[str] | None = None,
    echoed: set[str] | None = None,
    incident: str | None = None,
) -> GateRead:
    versions = {f: f"{version:010d}" for f in fields or {}} if version is not None else {}
    return GateRead(
        duplicate=False,
        echoed=echoed or set(),
        known=KnownState(dict(fields or {}), versions, {}),
        ours=ours or set(),
        incident=incident,
        links=None,
        detached=None,
    )


def screening(
    e: ChangeEvent, r: GateRead | None = None, direction: str = "bidirectional"
) -> Screening:
    s = Screening.of(e, config(direction), STORE)
    s.read = r
    return s


async def test_known_side_drops_an_integration_the_config_does_not_have() -> None:
    decided = await guards.KnownSide()(screening(event(integration="nope")))
    assert decided is not None and decided.reason == "unknown_integration"
    assert await guards.KnownSide()(screening(event())) is None


async def test_direction_drops_the_changes_of_an_outbound_only_side() -> None:
    decided = await guards.Direction()(screening(event(), direction="outbound"))
    assert decided is not None and decided.reason == "direction"
    assert await guards.Direction()(screening(event(), direction="bidirectional")) is None
    assert await guards.Direction()(screening(event(integration="incidentio"))) is None


async def test_stale_drops_a_snapshot_older_than_the_version_known() -> None:
    old = screening(event("old", version=4), read({"title": "new"}, version=5))
    decided = await guards.Stale()(old)
    assert decided is not None and decided.reason == "stale"
    newer = screening(event("newer", version=6), read({"title": "new"}, version=5))
    assert await guards.Stale()(newer) is None
    assert set(newer.fresh) == {"title"}


async def test_echo_actor_drops_our_own_integration_users_change_unless_forced() -> None:
    ours = screening(event(actor="incident-sync"), read())
    ours.fresh = dict(ours.event.changes)
    decided = await guards.EchoActor()(ours)
    assert decided is not None and decided.reason == "echo_actor"
    assert decided.writes is not None  # the record's true state, remembered
    assert await guards.EchoActor()(screening(event(actor="john.smith"), read())) is None
    forced = screening(event(actor="incident-sync", origin=Origin.MANUAL), read())
    assert await guards.EchoActor()(forced) is None


async def test_echo_version_drops_the_snapshot_our_own_write_produced() -> None:
    decided = await guards.EchoVersion()(screening(event(actor=None), read(ours={"title"})))
    assert decided is not None and decided.reason == "echo_version"
    assert await guards.EchoVersion()(screening(event(actor=None), read())) is None


async def test_linked_finds_the_incident_or_drops_an_unlinked_record() -> None:
    platform = screening(event(integration="incidentio"), read())
    assert await guards.Linked()(platform) is None and platform.pid == "sys1"
    linked = screening(event(), read(incident="INC1"))
    assert await guards.Linked()(linked) is None and linked.pid == "INC1"
    decided = await guards.Linked()(screening(event(), read()))
    assert decided is not None and decided.reason == "unlinked"


async def test_noop_drops_what_the_record_showed_already_or_carries_back_ours() -> None:
    def fresh(s: Screening) -> Screening:
        s.fresh = dict(s.event.changes)
        return s

    same = fresh(screening(event("A"), read({"title": "A"})))
    decided = await guards.NoOp()(same)
    assert decided is not None and decided.reason == "echo_or_noop"
    echoed = fresh(screening(event("B"), read({"title": "A"}, echoed={"title"})))
    decided = await guards.NoOp()(echoed)
    assert decided is not None and decided.reason == "echo_or_noop"
    news = fresh(screening(event("B"), read({"title": "A"})))
    assert await guards.NoOp()(news) is None
    assert set(news.changes) == {"title"} and news.remember is not None
    created = fresh(screening(event("A", kind=ChangeKind.CREATED), read({"title": "A"})))
    assert await guards.NoOp()(created) is None  # a create goes on, news or not


def documented(text: str) -> list[str]:
    """The guard names of a numbered list (`1. `name`: ...`)."""
    return re.findall(r"^\s*\d+\. `([a-z_]+)`", text, flags=re.MULTILINE)


def test_the_chain_runs_in_the_documented_order() -> None:
    ctx = Context(
        settings=Settings(), config=config(), store=STORE, mappings={}, preset_connectors={}
    )
    chain = guards.chain(ctx, GateReader(STORE.redis), Comments(ctx))
    names = [g.name for g in chain]
    assert names == list(guards.ORDER)
    assert documented(guards.__doc__ or "") == names
    architecture = (ROOT / "docs/architecture.md").read_text()
    section = architecture[architecture.index("<!-- gate guards -->") :]
    assert documented(section[: section.index("<!-- /gate guards -->")]) == names
