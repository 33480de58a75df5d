"""The arbiter's rules: which sides a gated change is written to, and with which fields.

Pure: given a linked change, the configuration and each side's mapping, return the commands.
Rules: never write back to the change's source; `inbound` integrations never receive writes
and `outbound` ones are never read; only mapped fields travel; an unlinked integration gets a
create carrying the incident's full mapped state.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncmodel.config import SyncConfig
from syncmodel.events import ChangeKind, DeliveryCommand, LinkedEvent
from syncmodel.mapping import FieldMapping


def plan_deliveries(
    linked: LinkedEvent, config: SyncConfig, mappings: Mapping[str, FieldMapping]
) -> list[DeliveryCommand]:
    event = linked.event
    if event.kind is ChangeKind.DELETED:
        return []  # deletes are reported, not propagated
    source = config.side(event.integration_id)
    if source is None:
        return []
    changed = {f: c.new for f, c in event.changes.items()}
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

    if not linked.is_platform:
        if not source.direction.accepts_inbound:
            return []
        accepted = mappings[source.id].inbound_fields()
        changed = {f: v for f, v in changed.items() if f in accepted}
        if not changed:
            return []
        command(config.platform.id, linked.platform_incident_id, changed)

    for integration in config.integrations:
        if integration.id == event.integration_id or not integration.direction.writes_outbound:
            continue
        if integration.tenant != event.tenant:
            continue
        outbound = mappings[integration.id].outbound_fields()
        external_id = linked.links.get(integration.id)
        fields: dict[str, str | None]
        if external_id is None:
            if not linked.is_platform:
                continue  # a tool's change does not create records in other tools
            fields = {f: v for f, v in linked.state.items() if f in outbound and v}
        else:
            fields = {f: v for f, v in changed.items() if f in outbound}
        if fields or external_id is None:
            command(integration.id, external_id, fields)
    return commands
