"""The arbiter's rules: which sides a gated change is written to, and with which fields.

Pure. Two steps, with the conflict rules (`syncmodel.conflicts`) between them:

1. `contributed` — what the source may contribute at all: a tool's change only through an
   integration that accepts inbound changes, only fields its mapping takes in, and never a
   field the platform owns for that integration. The platform contributes every field.
2. `plan_deliveries` — the writes: never back to the source; `inbound` integrations never
   receive writes; only fields the target's mapping writes and the target does not own; a
   create (with the incident's full mapped state) for an integration that is not linked yet,
   only for platform changes and only if the integration's trigger matches the incident; a
   reopen turned into a comment where the target's reopen policy says so; and the winners of
   lost conflicts re-asserted on the side whose late change lost.
"""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.events import ChangeKind, DeliveryCommand, LinkedEvent
from incident_sync.syncmodel.fields import Field, ReopenPolicy, Status
from incident_sync.syncmodel.mapping import FieldMapping
from incident_sync.syncmodel.ownership import accepts_inbound, writes_outbound

STATUS = Field.STATUS.value
COMMENT = Field.COMMENT.value


def contributed(
    linked: LinkedEvent, config: SyncConfig, mappings: Mapping[str, FieldMapping]
) -> dict[str, str | None]:
    """The changed fields the source side is allowed to contribute (canonical -> value)."""
    event = linked.event
    changed = {f: c.new for f, c in event.changes.items()}
    if linked.is_platform:
        return changed
    source = config.side(event.integration_id)
    if source is None or not source.direction.accepts_inbound:
        return {}
    accepted = mappings[source.id].inbound_fields()
    rules = source.ownership_rules()
    return {f: v for f, v in changed.items() if f in accepted and accepts_inbound(rules, f)}


def _writable(target: IntegrationConfig, mapping: FieldMapping, field: str) -> bool:
    return field in mapping.outbound_fields() and writes_outbound(target.ownership_rules(), field)


def _is_reopen(linked: LinkedEvent, fields: Mapping[str, str | None]) -> bool:
    change = linked.event.changes.get(STATUS)
    return (
        fields.get(STATUS) == Status.OPEN.value
        and change is not None
        and change.old == Status.CLOSED.value
    )


def plan_deliveries(
    linked: LinkedEvent,
    config: SyncConfig,
    mappings: Mapping[str, FieldMapping],
    *,
    accepted: Mapping[str, str | None] | None = None,
    reassert: Mapping[str, FieldWrite] | None = None,
) -> list[DeliveryCommand]:
    """The writes for one gated change.

    `accepted`: the contributed fields that won arbitration (default: all contributed);
    `reassert`: winning values to write back onto the source record, whose change lost.
    """
    event = linked.event
    if event.kind is ChangeKind.DELETED:
        return []  # deletes are reported, not propagated
    source = config.side(event.integration_id)
    if source is None:
        return []
    changed = dict(contributed(linked, config, mappings) if accepted is None else accepted)
    commands: list[DeliveryCommand] = []

    def command(target_id: str, external_id: str | None, fields: Mapping[str, str | None]) -> None:
        commands.append(
            DeliveryCommand(
                causation_id=event.event_id,
                tenant=event.tenant,
                platform_incident_id=linked.platform_incident_id,
                source_integration_id=event.integration_id,
                target_integration_id=target_id,
                target_external_id=external_id,
                set_fields=dict(fields),
                source_ts=event.source_ts,
                received_at=event.received_at,
            )
        )

    if reassert:
        commands.extend(_reassertions(linked, config, mappings, reassert))

    if not linked.is_platform and changed:
        if _is_reopen(linked, changed) and source.reopen is ReopenPolicy.COMMENT:
            del changed[STATUS]
            changed.setdefault(COMMENT, _reopen_note(config, event.integration_id))
        command(config.platform.id, linked.platform_incident_id, changed)

    for integration in config.integrations:
        if integration.id == event.integration_id or not integration.direction.writes_outbound:
            continue
        if integration.tenant != event.tenant:
            continue
        mapping = mappings[integration.id]
        external_id = linked.links.get(integration.id)
        fields: dict[str, str | None]
        if external_id is None:
            if not linked.is_platform:
                continue  # a tool's change does not create records in other tools
            if integration.id in linked.detached:
                continue  # its record was deleted there: unlinked on purpose
            if integration.trigger is not None and not integration.trigger.matches(linked.state):
                continue  # not (yet) an incident this integration syncs
            fields = {
                f: v for f, v in linked.state.items() if v and _writable(integration, mapping, f)
            }
        else:
            fields = {f: v for f, v in changed.items() if _writable(integration, mapping, f)}
            if _is_reopen(linked, fields) and integration.reopen is ReopenPolicy.COMMENT:
                del fields[STATUS]
                if COMMENT in mapping.outbound_fields():
                    fields.setdefault(COMMENT, _reopen_note(config, event.integration_id))
        if fields or external_id is None:
            command(integration.id, external_id, fields)
    if event.deliver_to:  # a corrective change that heals one link, not all of them
        return [c for c in commands if c.target_integration_id in event.deliver_to]
    return commands


def _reassertions(
    linked: LinkedEvent,
    config: SyncConfig,
    mappings: Mapping[str, FieldMapping],
    reassert: Mapping[str, FieldWrite],
) -> list[DeliveryCommand]:
    """Write the winners back onto the record whose late change lost, grouped by winner."""
    event = linked.event
    source = config.side(event.integration_id)
    if source is None:
        return []
    if not linked.is_platform:
        if not source.direction.writes_outbound:
            return []
        mapping = mappings[source.id]
        reassert = {f: w for f, w in reassert.items() if _writable(source, mapping, f)}
    by_winner: dict[str, dict[str, FieldWrite]] = {}
    for field, write in reassert.items():
        if write.side != source.id:
            by_winner.setdefault(write.side, {})[field] = write
    return [
        DeliveryCommand(
            causation_id=event.event_id,
            tenant=event.tenant,
            platform_incident_id=linked.platform_incident_id,
            source_integration_id=winner,  # the winner's side: never the record written to
            target_integration_id=source.id,
            target_external_id=event.external_id,
            set_fields={f: w.value for f, w in writes.items()},
            # The winner's time, so a later look at this record knows which value it holds.
            source_ts=max(w.ts for w in writes.values()),
            received_at=event.received_at,
        )
        for winner, writes in by_winner.items()
    ]


def _reopen_note(config: SyncConfig, source_id: str) -> str:
    where = "the incident platform" if source_id == config.platform.id else source_id
    return f"The incident was reopened in {where}; this record stays closed (reopen policy)."


def restore_source(
    linked: LinkedEvent,
    config: SyncConfig,
    mappings: Mapping[str, FieldMapping],
    fields: Mapping[str, str | None],
) -> list[DeliveryCommand]:
    """Put a winning change back on its own record, where our write of an older value
    landed on top of it (see `syncmodel.echo.clobbered_fields`). Not an echo: the record
    shows the loser now."""
    event = linked.event
    source = config.side(event.integration_id)
    if source is None or not fields:
        return []
    if not linked.is_platform:
        if not source.direction.writes_outbound:
            return []
        fields = {f: v for f, v in fields.items() if _writable(source, mappings[source.id], f)}
    if not fields:
        return []
    return [
        DeliveryCommand(
            causation_id=event.event_id,
            tenant=event.tenant,
            platform_incident_id=linked.platform_incident_id,
            source_integration_id=source.id,
            target_integration_id=source.id,
            target_external_id=event.external_id,
            set_fields=dict(fields),
            source_ts=event.source_ts,
            received_at=event.received_at,
        )
    ]
