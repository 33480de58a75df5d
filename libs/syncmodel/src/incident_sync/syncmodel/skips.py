"""Why a gated change is not written somewhere: the routing's rules (`syncmodel.routing`) read
the other way round, for the incident's timeline.

Pure. `skips` names, per side and reason, the changed fields the routing leaves out:

- `direction`: the source does not take its tool's changes in, or a target gets no writes;
- `mapping`: the side's mapping does not carry the field (in from the source, out to a target);
- `ownership`: the platform owns the field for the source, or the target owns it;
- `trigger`: an unlinked target whose trigger the incident does not match (no create);
- `detached`: an unlinked target whose record was deleted (no new record on purpose).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import ChangeKind, LinkedEvent
from incident_sync.syncmodel.mapping import FieldMapping
from incident_sync.syncmodel.ownership import accepts_inbound, writes_outbound


@dataclass(frozen=True)
class Skip:
    side: str
    reason: str
    fields: tuple[str, ...]


def skips(
    linked: LinkedEvent,
    config: SyncConfig,
    mappings: Mapping[str, FieldMapping],
    offered: Mapping[str, str | None],
) -> list[Skip]:
    """What the routing leaves out of `linked`'s change (`offered`: what the source
    contributes, as `routing.contributed` answers)."""
    event = linked.event
    if event.kind is ChangeKind.DELETED or event.resolves_conflict is not None:
        return []
    out: list[Skip] = []

    def skip(side: str, reason: str, fields: list[str]) -> None:
        if fields:
            out.append(Skip(side, reason, tuple(sorted(fields))))

    changed = list(event.changes)
    source = config.side(event.integration_id)
    if source is None:
        return []
    if not linked.is_platform:
        if not source.direction.accepts_inbound:
            skip(source.id, "direction", changed)
            return out
        taken = mappings[source.id].inbound_fields()
        rules = source.ownership_rules()
        skip(source.id, "mapping", [f for f in changed if f not in taken])
        owned = [f for f in changed if f in taken and not accepts_inbound(rules, f)]
        skip(source.id, "ownership", owned)
    fields = list(offered)
    for target in config.integrations:
        if target.id == event.integration_id or target.tenant != event.tenant:
            continue
        if event.deliver_to and target.id not in event.deliver_to:
            continue
        if not target.direction.writes_outbound:
            skip(target.id, "direction", fields)
            continue
        linked_here = target.id in linked.links
        if not linked_here:
            if not linked.is_platform:
                continue  # a tool's change makes no record elsewhere: nothing was due there
            if target.id in linked.detached:
                skip(target.id, "detached", fields)
            elif target.trigger is not None and not target.trigger.matches(linked.state):
                skip(target.id, "trigger", fields)
            continue
        carried = mappings[target.id].outbound_fields()
        rules = target.ownership_rules()
        skip(target.id, "mapping", [f for f in fields if f not in carried])
        owned = [f for f in fields if f in carried and not writes_outbound(rules, f)]
        skip(target.id, "ownership", owned)
    return out
