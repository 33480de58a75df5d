"""A linked record deleted in its tool (`jira:issue_deleted`, ServiceNow `incident.deleted`):
the arbiter unlinks it, forgets its comments, marks its integration detached for the incident
(no new record is made there until an operator syncs the incident by hand) and notes the
deletion on the platform incident (`syncmodel.deletes`)."""

from __future__ import annotations

import logging

from incident_sync.outbound.commentmap import CommentMap
from incident_sync.outbound.context import Context
from incident_sync.syncmodel.deletes import deletion_note
from incident_sync.syncmodel.events import DeliveryCommand, LinkedEvent
from incident_sync.syncstate import links

log = logging.getLogger(__name__)


async def unlink_deleted(ctx: Context, linked: LinkedEvent) -> list[DeliveryCommand]:
    event, redis, pid = linked.event, ctx.store.redis, linked.platform_incident_id
    await links.unlink(redis, event.tenant, pid, event.integration_id, event.external_id)
    await CommentMap(redis).forget_side(event.tenant, pid, event.integration_id)
    log.info(
        "linked record deleted: unlinked",
        extra={
            "incident": pid,
            "integration": event.integration_id,
            "external_id": event.external_id,
            "reference": event.reference,
        },
    )
    note = deletion_note(linked, ctx.config)
    return [note] if note is not None else []
