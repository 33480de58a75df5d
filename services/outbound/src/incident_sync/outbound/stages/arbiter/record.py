"""What the incident's timeline records of one arbiter decision (`syncstate.timeline`):
conflicts detected, parked and resolved (by whom), fields left parked, the writes planned (to
which sides), what the routing left out and why (`syncmodel.skips`, with the change's source),
a deleted record unlinked. Field names, sides, rules and ids only: never the values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from incident_sync.outbound.context import Context
from incident_sync.runtime import tracing
from incident_sync.syncmodel.events import DeliveryCommand, LinkedEvent
from incident_sync.syncmodel.skips import skips
from incident_sync.syncstate.conflicts import ConflictRecord, ConflictStatus
from incident_sync.syncstate.timeline import Detail, Entry, Kind

if TYPE_CHECKING:
    from incident_sync.outbound.stages.arbiter.arbiter import ArbiterResult


def _conflict(record: ConflictRecord, trace: str | None) -> list[Entry]:
    sides = (record.platform.side, record.external.side)
    detail: Mapping[str, Detail] = {"conflict": record.id}
    out = [
        Entry(
            Kind.CONFLICT_DETECTED,
            sides,
            (record.field,),
            record.strategy.value,
            trace,
            {**detail, "integration": record.integration_id},
        )
    ]
    if record.status is ConflictStatus.PENDING:
        parked = Entry(Kind.CONFLICT_PARKED, sides, (record.field,), "manual_review", trace, detail)
        out.append(parked)
    else:
        out.append(_resolved(record, trace))
    return out


def _resolved(record: ConflictRecord, trace: str | None) -> Entry:
    return Entry(
        Kind.CONFLICT_RESOLVED,
        (record.platform.side, record.external.side),
        (record.field,),
        record.resolution.value if record.resolution is not None else None,
        trace,
        {"conflict": record.id, "winner": record.winner, "resolver": record.resolver},
    )


def entries(ctx: Context, linked: LinkedEvent, result: ArbiterResult) -> list[Entry]:
    event, trace = linked.event, tracing.trace_id()
    source = event.integration_id
    if result.unlinked:
        gone: dict[str, Detail] = {"record": event.external_id, "reference": event.reference}
        return [Entry(Kind.UNLINKED, (source,), (), "deleted", trace, gone)]
    out: list[Entry] = []
    for record in result.conflicts:
        out += _conflict(record, trace)
    if result.settled is not None:
        out.append(_resolved(result.settled, trace))
    fresh = {c.field for c in result.conflicts}
    still = [f for f in result.parked if f not in fresh]
    # The change's source on each skip: whether the side's own edit was not taken in, or
    # another side's change not written there (`syncmodel.explain` reads it).
    whose: Mapping[str, Detail] = {"source": source}
    if still:
        out.append(Entry(Kind.SKIPPED, (source,), tuple(still), "parked", trace, whose))
    for skip in skips(linked, ctx.config, ctx.mappings, result.offered):
        out.append(Entry(Kind.SKIPPED, (skip.side,), skip.fields, skip.reason, trace, whose))
    out += _planned(source, result.commands, None, trace)
    return out


def restored(linked: LinkedEvent, commands: Sequence[DeliveryCommand]) -> list[Entry]:
    """The put-backs planned onto the source record (a clobbered or overtaken edit)."""
    return _planned(linked.event.integration_id, commands, "put_back", tracing.trace_id())


def _planned(
    source: str, commands: Sequence[DeliveryCommand], rule: str | None, trace: str | None
) -> list[Entry]:
    if not commands:
        return []
    targets = tuple(dict.fromkeys(c.target_integration_id for c in commands))
    fields = {f for c in commands for f in c.set_fields}
    fields |= {"comment" for c in commands if c.comment is not None}
    creates = sum(1 for c in commands if c.target_external_id is None)
    detail: dict[str, Detail] = {
        "source": source,
        "commands": len(commands),
        "creates": creates or None,
    }
    return [Entry(Kind.PLANNED, targets, tuple(fields), rule, trace, detail)]
