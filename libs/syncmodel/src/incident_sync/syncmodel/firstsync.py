"""The one sync of a pair just linked (`im integration link`, one pair or `--auto`): a manual
`refresh` of the record where its tool is a source, so the gate reads it and the usual
ownership and conflict rules decide which values win; of the incident, for an outbound-only
integration (its records are never read). With an operator's choice of who wins at first
link (`--initial platform|external|newer`), `initial_sync` instead decides each compared field
(`syncmodel.matching.first_winner`, within field ownership and the integration's direction)
and refreshes each side for the fields it wins, delivered to the other side of the pair only.
Pure: the caller publishes the events."""

from __future__ import annotations

from datetime import datetime

from incident_sync.syncmodel import drift
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin, new_id
from incident_sync.syncmodel.fields import Owner
from incident_sync.syncmodel.mapping import FieldMapping
from incident_sync.syncmodel.matching import Initial, first_winner

# Whose value a field keeps where only one side can give it (its owner, or the one way the
# integration carries it).
_FIXED = {
    drift.Flow.PLATFORM_AUTHORITY: Owner.PLATFORM,
    drift.Flow.PLATFORM_NEWS_ONLY: Owner.PLATFORM,
    drift.Flow.EXTERNAL_AUTHORITY: Owner.EXTERNAL,
    drift.Flow.EXTERNAL_NEWS_ONLY: Owner.EXTERNAL,
}


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


def winners(
    integration: IntegrationConfig,
    mapping: FieldMapping,
    initial: Initial,
    *,
    platform_changed: datetime,
    external_changed: datetime,
) -> dict[str, Owner]:
    """Field -> the side whose value it keeps at first link: every field the integration
    compares (`drift.flows`: the mapping, its direction and the ownership rules)."""
    return {
        field: first_winner(_FIXED.get(flow), initial, platform_changed, external_changed)
        for field, flow in sorted(drift.flows(integration, mapping).items())
    }


def initial_sync(
    tenant: str,
    *,
    platform: str,
    integration: IntegrationConfig,
    won: dict[str, Owner],
    incident: str,
    record_id: str,
    actor: str,
) -> list[ChangeEvent]:
    """The refreshes that give each side the fields the other won (`winners`): the
    incident's, delivered to the integration only, and the record's, delivered to the
    platform only, each limited to those fields. Forced through the gate as a heal's push
    is (origin `reconciler`): unlike an operator's sync of the incident, it does not end the
    incident's detachment from the other integrations."""
    events = []
    for owner, (side, read, to) in {
        Owner.PLATFORM: (platform, incident, integration.id),
        Owner.EXTERNAL: (integration.id, record_id, platform),
    }.items():
        fields = tuple(f for f, w in won.items() if w is owner)
        if fields:
            event = refresh(tenant, side, read, incident, actor)
            events.append(
                event.model_copy(
                    update={"only_fields": fields, "deliver_to": (to,), "origin": Origin.RECONCILER}
                )
            )
    return events
