"""The one sync of a pair just linked (`im integration link`, one pair or `--auto`): a manual
`refresh` of the record where its tool is a source, so the gate reads it and the usual
ownership and conflict rules decide which values win; of the incident, for an outbound-only
integration (its records are never read). Pure: the caller publishes the event."""

from __future__ import annotations

from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin, new_id


def refresh(tenant: str, side: str, record_id: str, incident: str, actor: str) -> ChangeEvent:
    """A manual `refresh` of one record of `side` (an integration, or the platform with the
    incident as its record), as an operator's manual sync asks for it."""
    return ChangeEvent(
        delivery_id=new_id(),
        tenant=tenant,
        integration_id=side,
        external_id=record_id,
        platform_incident_id=incident,
        kind=ChangeKind.REFRESH,
        origin=Origin.MANUAL,
        actor=actor,
    )


def first_sync(
    tenant: str,
    *,
    platform: str,
    integration: str,
    takes_in: bool,
    incident: str,
    record_id: str,
    actor: str,
) -> ChangeEvent:
    """The refresh that syncs a new pair: the record's when the integration's changes are
    taken in (`takes_in`), else the incident's."""
    if takes_in:
        return refresh(tenant, integration, record_id, incident, actor)
    return refresh(tenant, platform, incident, incident, actor)
