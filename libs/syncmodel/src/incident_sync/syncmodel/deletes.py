"""A linked record deleted in its tool: the pure part of unlinking it.

The pipeline unlinks the record (the incident stays, and no new record is made in that
integration for it until an operator asks for a manual sync of the incident) and notes the
deletion on the platform incident, as a comment whose source id names the deleted record, so
a redelivered delete never notes it twice.
"""

from __future__ import annotations

from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import (
    CommentAction,
    CommentChange,
    DeliveryCommand,
    LinkedEvent,
)


def deletion_note(linked: LinkedEvent, config: SyncConfig) -> DeliveryCommand | None:
    """The platform note for a linked record deleted in its tool (None for the platform's
    own records, or a side no longer configured)."""
    event = linked.event
    side = config.side(event.integration_id)
    if side is None or linked.is_platform:
        return None
    record = event.reference or event.external_id
    who = f" by {event.actor}" if event.actor else ""
    body = (
        f"{record} was deleted in {side.id} ({side.type}){who}. incident-sync unlinked "
        f"it and no longer syncs this incident with {side.id}; a manual sync of the incident "
        "makes a new record there."
    )
    return DeliveryCommand(
        causation_id=event.event_id,
        tenant=event.tenant,
        platform_incident_id=linked.platform_incident_id,
        source_integration_id=side.id,
        target_integration_id=config.platform.id,
        target_external_id=linked.platform_incident_id,
        comment=CommentChange(
            action=CommentAction.ADDED,
            comment_id=f"deleted:{event.external_id}",
            body=body,
        ),
        source_ts=event.source_ts,
        received_at=event.received_at,
    )
