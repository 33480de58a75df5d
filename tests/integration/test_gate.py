"""Each of the gate's guards, on a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import httpx
import pytest

from incident_sync.connectors.base import Connector, RecordState, Written
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin
from incident_sync.syncstate.client import connect

pytestmark = pytest.mark.integration
T_WRITE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def make_gate(
    redis_url: str,
    direction: str = "bidirectional",
    connectors: dict[str, Connector] | None = None,
) -> Gate:
    redis = connect(redis_url)
    await redis.flushdb()
    config = SyncConfig(
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
    ctx = Context(
        settings=Settings(),
        config=config,
        store=StateStore(redis),
        mappings={s.id: s.mapping() for s in (config.platform, *config.integrations)},
        preset_connectors=connectors or {},
    )
    return Gate(ctx)


@pytest.fixture
async def gate(redis_url: str) -> AsyncIterator[Gate]:
    gate = await make_gate(redis_url)
    yield gate
    await gate.ctx.aclose()


def snow(
    title: str,
    *,
    delivery: str = "d1",
    version: int = 2,
    actor: str | None = "john.smith",
    pid: str | None = "INC1",
) -> ChangeEvent:
    return ChangeEvent(
        delivery_id=delivery,
        integration_id="prod-snow",
        external_id="sys1",
        kind=ChangeKind.UPDATED,
        changes={"title": FieldChange(new=title)},
        version=f"{version:010d}",
        actor=actor,
        platform_incident_id=pid,
    )


async def decide(gate: Gate, event: ChangeEvent) -> str:
    result = await gate.process(event)
    if result.commit is not None:
        await result.commit()
    await gate.mark_done(event)
    return result.reason


async def test_a_redelivered_webhook_is_a_duplicate(gate: Gate) -> None:
    assert await decide(gate, snow("A")) == "passed"
    assert await decide(gate, snow("A")) == "duplicate"


async def test_the_integration_users_own_change_is_an_echo(gate: Gate) -> None:
    assert await decide(gate, snow("A", actor="incident-sync")) == "echo_actor"


async def test_a_value_we_wrote_is_an_echo_once_where_the_tool_names_no_actor(
    gate: Gate,
) -> None:
    store = gate.ctx.store
    await store.link("default", "INC1", "prod-snow", "sys1")
    await store.expect_echo("default", "prod-snow", "sys1", {"title": "B"}, 60)
    assert await decide(gate, snow("B", delivery="d1", actor=None)) == "echo_or_noop"
    # a person setting another value and then ours again is a real change each time
    assert await decide(gate, snow("C", delivery="d2", version=3, actor=None)) == "passed"
    assert await decide(gate, snow("B", delivery="d3", version=4, actor=None)) == "passed"


async def test_a_named_person_typing_a_value_we_wrote_is_a_real_change(gate: Gate) -> None:
    store = gate.ctx.store
    await store.link("default", "INC1", "prod-snow", "sys1")
    await store.expect_echo("default", "prod-snow", "sys1", {"title": "B"}, 60)
    assert await decide(gate, snow("B", delivery="d1", actor="john.smith")) == "passed"


async def test_the_snapshot_of_our_own_write_is_its_echo(gate: Gate) -> None:
    store = gate.ctx.store
    await store.link("default", "INC1", "prod-snow", "sys1")
    await store.add_our_write("default", "prod-snow", "sys1", f"{7:010d}", ["title"], 60)
    assert await decide(gate, snow("B", delivery="d1", version=7, actor=None)) == "echo_version"
    assert await decide(gate, snow("C", delivery="d2", version=8, actor=None)) == "passed"


async def test_an_unchanged_value_is_a_no_op(gate: Gate) -> None:
    assert await decide(gate, snow("A", delivery="d1")) == "passed"
    assert await decide(gate, snow("A", delivery="d2", version=3)) == "echo_or_noop"


async def test_an_older_snapshot_is_stale(gate: Gate) -> None:
    assert await decide(gate, snow("new", delivery="d1", version=5)) == "passed"
    assert await decide(gate, snow("old", delivery="d2", version=4)) == "stale"


async def test_an_unlinked_record_goes_nowhere(gate: Gate) -> None:
    assert await decide(gate, snow("A", pid=None)) == "unlinked"


async def test_the_records_own_correlation_links_it(gate: Gate) -> None:
    result = await gate.process(snow("A", pid="INC9"))
    assert result.linked is not None and result.linked.platform_incident_id == "INC9"
    assert await gate.ctx.store.platform_incident_for("default", "prod-snow", "sys1") == "INC9"


async def test_an_outbound_integration_ignores_its_webhooks(redis_url: str) -> None:
    gate = await make_gate(redis_url, direction="outbound")
    try:
        assert await decide(gate, snow("A")) == "direction"
    finally:
        await gate.ctx.aclose()


async def test_a_reconcilers_snapshot_at_our_versions_brings_the_edit_whose_webhook_was_lost(
    gate: Gate,
) -> None:
    store = gate.ctx.store
    # Known: title A, description D. A person sets the title to B (its webhook is lost), then
    # our write of a new description produces version 3.
    await store.remember_state("default", "prod-snow", "sys1", {"title": "A", "description": "D"})
    await store.link("default", "INC1", "prod-snow", "sys1")
    await store.add_our_write("default", "prod-snow", "sys1", f"{3:010d}", ["description"], 600)

    def snapshot(origin: Origin, delivery: str) -> ChangeEvent:
        return ChangeEvent(
            delivery_id=delivery,
            integration_id="prod-snow",
            external_id="sys1",
            kind=ChangeKind.UPDATED,
            changes={"title": FieldChange(new="B"), "description": FieldChange(new="D2")},
            version=f"{3:010d}",
            origin=origin,
        )

    # A webhook of that version is our echo: the person's edit has a webhook of its own.
    assert await decide(gate, snapshot(Origin.USER, "hook")) == "echo_version"
    # The reconciler read the record because that webhook never came: the title is news.
    result = await gate.process(snapshot(Origin.RECONCILER, "poll"))
    assert result.linked is not None
    assert {f: c.new for f, c in result.linked.event.changes.items()} == {"title": "B"}


async def test_a_change_is_remembered_only_once_it_is_durable_downstream(gate: Gate) -> None:
    """A worker killed after the gate passed a change but before it reached sync.changes
    sees the change again on redelivery: it must pass again, not look like a no-op."""
    first = await gate.process(snow("A"))
    assert first.reason == "passed" and first.commit is not None
    # killed here: not published, not committed, not marked done
    again = await gate.process(snow("A"))
    assert again.reason == "passed"
    assert again.commit is not None
    await again.commit()
    await gate.mark_done(snow("A"))
    assert await decide(gate, snow("A", delivery="d-other")) != "passed"  # known now


class Record(Connector, WebhookSource):
    """A ServiceNow record as the gate re-reads it (no HTTP: only `fetch` is used)."""

    def __init__(self, fields: dict[str, str | None]) -> None:
        super().__init__(IntegrationConfig(id="prod-snow", type="servicenow", base_url="http://sn"))
        self.fields = fields

    async def fetch(self, external_id: str) -> RecordState:
        return RecordState(external_id, dict(self.fields), version=f"{9:010d}")

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        raise NotImplementedError

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        raise NotImplementedError

    async def test_connection(self) -> None:
        raise NotImplementedError

    async def find_linked(self, platform_incident_id: str) -> str | None:
        raise NotImplementedError

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        raise NotImplementedError

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        raise NotImplementedError

    def _make_client(self) -> httpx.AsyncClient:
        raise NotImplementedError


def push(origin: Origin, decided: dict[str, str] | None = None) -> ChangeEvent:
    """A forced re-read of the ticket (a reconciler's push, or an operator's manual sync)."""
    return ChangeEvent(
        delivery_id=f"push-{origin.value}-{sorted((decided or {}).items())}",
        integration_id="prod-snow",
        external_id="sys1",
        kind=ChangeKind.REFRESH,
        changes={f: FieldChange(new=v) for f, v in (decided or {}).items()},
        only_fields=tuple(sorted(decided or {"title": "", "description": ""})),
        origin=origin,
    )


async def test_forced_re_reads_push_neither_a_moved_value_nor_our_own_stored_form(
    redis_url: str,
) -> None:
    cut = "x" * 150 + "… [truncated]"
    ticket = Record({"title": "Moved on", "description": cut})
    gate = await make_gate(redis_url, connectors={"prod-snow": ticket})
    store = gate.ctx.store
    await store.link("default", "INC1", "prod-snow", "sys1")
    # Our write of a long description was stored cut: the record shows our value.
    async with store.pipeline() as pipe:
        store.q_remember_state(pipe, "default", "prod-snow", "sys1", {"description": cut},
                               f"{8:010d}", T_WRITE, sent={"description": "x" * 400})  # fmt: skip
        await pipe.execute()
    # A reconcile decided to push the title "Was" onto the platform; it changed since (its
    # own change travels with its own time): nothing is pushed, nothing dated by "Was".
    assert await decide(gate, push(Origin.RECONCILER, {"title": "Was"})) == "echo_or_noop"
    # Still the value compared: pushed.
    result = await gate.process(push(Origin.RECONCILER, {"title": "Moved on"}))
    assert result.linked is not None and set(result.linked.event.changes) == {"title"}
    # An operator's sync re-reads everything: the cut description is not carried back.
    result = await gate.process(push(Origin.MANUAL))
    assert result.linked is not None and set(result.linked.event.changes) == {"title"}
    await gate.ctx.aclose()


async def test_a_reconcilers_take_of_a_value_we_wrote_before_is_news_where_the_tool_names_actors(
    gate: Gate,
) -> None:
    store = gate.ctx.store
    await store.link("default", "INC1", "prod-snow", "sys1")
    # We wrote B (its fingerprint recorded); the echo came back by actor, consuming nothing.
    await store.expect_echo("default", "prod-snow", "sys1", {"title": "B"}, 60)
    assert await decide(gate, snow("B", delivery="echo", actor="incident-sync")) == "echo_actor"
    assert await decide(gate, snow("C", delivery="d2", version=3)) == "passed"
    # A person sets B again; the webhook is lost, the reconciler takes it in (no actor).
    take = snow("B", delivery="reconcile:rec-1:take", version=4, actor=None)
    take = take.model_copy(update={"origin": Origin.RECONCILER})
    assert await decide(gate, take) == "passed"
