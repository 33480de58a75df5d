"""Each of the gate's guards that needs Redis (or a connector) alone, on a real redis-server:
the guard is called on a screening, never through the whole gate. The pure guards are
tested in tests/unit/outbound/test_gate_guards.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incident_sync.connectors.base import RecordNotFound, RecordState
from incident_sync.outbound.stages.gate import guards
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.outbound.stages.gate.screening import Screening
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    FieldChange,
    Origin,
)
from tests.integration.test_gate import Record, make_gate, push, snow

pytestmark = pytest.mark.integration


@pytest.fixture
async def gate(redis_url: str) -> AsyncIterator[Gate]:
    gate = await make_gate(redis_url)
    yield gate
    await gate.ctx.aclose()


def screening(gate: Gate, event: ChangeEvent) -> Screening:
    return Screening.of(event, gate.ctx.config, gate.ctx.store)


async def read(gate: Gate, s: Screening) -> Screening:
    assert await guards.Read(gate.reader)(s) is None
    return s


async def test_duplicate_looks_up_the_mark_of_an_event_the_gate_does_not_read_at_once(
    gate: Gate,
) -> None:
    deleted = snow("A").model_copy(update={"kind": ChangeKind.DELETED})
    assert await guards.Duplicate()(screening(gate, deleted)) is None
    await gate.mark_done(deleted)
    decided = await guards.Duplicate()(screening(gate, deleted))
    assert decided is not None and decided.reason == "duplicate"
    # An ordinary update's mark is the gate's one read's to answer: not looked up here.
    assert await guards.Duplicate()(screening(gate, snow("A"))) is None


async def test_read_stops_a_delivery_already_handled_and_consumes_our_fingerprints(
    gate: Gate,
) -> None:
    store = gate.ctx.store
    await store.expect_echo("default", "prod-snow", "sys1", {"title": "B"}, 60)
    s = await read(gate, screening(gate, snow("B", actor=None)))
    assert s.read is not None and s.read.echoed == {"title"}
    await gate.mark_done(snow("B", actor=None))
    decided = await guards.Read(gate.reader)(screening(gate, snow("B", actor=None)))
    assert decided is not None and decided.reason == "duplicate"


async def test_deleted_passes_on_a_linked_record_only(gate: Gate) -> None:
    deleted = snow("A").model_copy(update={"kind": ChangeKind.DELETED})
    decided = await guards.Deleted()(screening(gate, deleted))
    assert decided is not None and decided.reason == "unlinked"
    await gate.ctx.store.link("default", "INC1", "prod-snow", "sys1")
    decided = await guards.Deleted()(screening(gate, deleted))
    assert decided is not None and decided.reason == "passed"
    assert decided.linked is not None and decided.linked.platform_incident_id == "INC1"
    assert await guards.Deleted()(screening(gate, snow("A"))) is None


class Gone(Record):
    async def fetch(self, external_id: str) -> RecordState:
        raise RecordNotFound(f"{external_id} is not there")


async def test_reread_makes_the_records_current_values_the_change(redis_url: str) -> None:
    gate = await make_gate(redis_url, connectors={"prod-snow": Record({"title": "Now"})})
    try:
        s = screening(gate, push(Origin.MANUAL))
        assert await guards.Reread(gate.ctx)(s) is None
        assert s.event.kind is ChangeKind.UPDATED
        assert {f: c.new for f, c in s.event.changes.items()} == {"title": "Now"}
        assert s.forced  # decided by the event as it came
    finally:
        await gate.ctx.aclose()
    gate = await make_gate(redis_url, connectors={"prod-snow": Gone({})})
    try:
        decided = await guards.Reread(gate.ctx)(screening(gate, push(Origin.MANUAL)))
        assert decided is not None and decided.reason == "record_not_found"
    finally:
        await gate.ctx.aclose()


def comment(actor: str | None) -> ChangeEvent:
    return snow("hello", actor=actor).model_copy(
        update={
            "changes": {"comment": FieldChange(new="hello")},
            "comment": CommentChange(action=CommentAction.ADDED, comment_id="c1", body="hello"),
        }
    )


async def test_comment_takes_a_comment_by_id_on_its_own_path(gate: Gate) -> None:
    await gate.ctx.store.link("default", "INC1", "prod-snow", "sys1")
    guard = guards.CommentById(gate.comments)
    assert await guard(await read(gate, screening(gate, snow("A")))) is None
    decided = await guard(await read(gate, screening(gate, comment("incident-sync"))))
    assert decided is not None and decided.reason == "echo_actor"
    decided = await guard(await read(gate, screening(gate, comment("john.smith"))))
    assert decided is not None and decided.reason == "passed"
    assert decided.linked is not None and set(decided.linked.event.changes) == {"comment"}


async def test_linked_adopts_the_incident_an_unlinked_record_names(gate: Gate) -> None:
    s = await read(gate, screening(gate, snow("A", pid="INC9")))
    assert await guards.Linked()(s) is None and s.pid == "INC9"
    assert await gate.ctx.store.platform_incident_for("default", "prod-snow", "sys1") == "INC9"


async def test_echo_version_lets_the_reconcilers_other_fields_on(gate: Gate) -> None:
    store = gate.ctx.store
    await store.add_our_write("default", "prod-snow", "sys1", f"{3:010d}", ["description"], 60)
    taken = snow("B", version=3, actor=None).model_copy(
        update={
            "origin": Origin.RECONCILER,
            "changes": {"title": FieldChange(new="B"), "description": FieldChange(new="D")},
        }
    )
    s = await read(gate, screening(gate, taken))
    assert await guards.EchoVersion()(s) is None
    assert set(s.event.changes) == {"title"}
    # What our write put there is remembered at once, as the record's state.
    assert (await store.known_state("default", "prod-snow", "sys1")).fields == {"description": "D"}
