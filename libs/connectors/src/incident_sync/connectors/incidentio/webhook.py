"""incident.io webhook deliveries -> canonical ChangeEvents.

The envelope is `{"event_type": T, T: {...}}`. Three kinds of delivery matter:
- `public_incident.incident_created_v2` / `_updated_v2`: the payload is a full IncidentV2;
- `public_incident.incident_status_updated_v2`: `{incident, new_status, previous_status,
  message}`; the status and the update message are what changed;
- `private_incident.incident_created_v2` / `_updated_v2`: only `{"id"}` (incident.io keeps
  private details out of webhooks), so the event asks the pipeline to re-read the incident.
Every other event type (follow-ups, actions, alerts, escalations, schedules...) is not
synced and yields no event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.canonical import COMMENT, STATUS
from incident_sync.connectors.incidentio.fields import (
    DEFAULT_COMMENT_FIELD,
    DEFAULT_PRIORITY_FIELD,
    canonical_fields,
    parse_timestamp,
    status_of,
)
from incident_sync.connectors.incidentio.signature import delivery_id as svix_delivery_id
from incident_sync.connectors.jsonshape import body_object, record_id, text
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind

INCIDENT_EVENTS: Final[Mapping[str, ChangeKind]] = {
    "public_incident.incident_created_v2": ChangeKind.CREATED,
    "public_incident.incident_updated_v2": ChangeKind.UPDATED,
}
STATUS_UPDATED: Final = "public_incident.incident_status_updated_v2"
PRIVATE_EVENTS: Final = frozenset(
    {"private_incident.incident_created_v2", "private_incident.incident_updated_v2"}
)


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    integration_id: str,
    tenant: str,
    priority_field: str | None = DEFAULT_PRIORITY_FIELD,
    comment_field: str | None = DEFAULT_COMMENT_FIELD,
) -> list[ChangeEvent]:
    """Parse one verified delivery; WebhookRejected(400/422) when it is malformed."""
    event_type, payload = _envelope(body)
    base = _Base(headers, body, integration_id, tenant, priority_field, comment_field)
    if event_type in INCIDENT_EVENTS:
        return [base.snapshot(INCIDENT_EVENTS[event_type], payload)]
    if event_type == STATUS_UPDATED:
        return [base.status_update(payload)]
    if event_type in PRIVATE_EVENTS:
        return [base.refresh(payload)]
    return []


def _envelope(body: bytes) -> tuple[str, dict[str, Any]]:
    data = body_object(body)
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookRejected(422, "missing event_type")
    payload = data.get(event_type)
    if not isinstance(payload, dict):
        raise WebhookRejected(422, f"missing the {event_type!r} object the envelope announces")
    return event_type, payload


def _incident_id(obj: Mapping[str, Any], where: str) -> str:
    return record_id(obj.get("id"), f"{where}.id")


class _Base:
    """What every event of one delivery shares: ids, tenant, delivery id."""

    def __init__(
        self,
        headers: Mapping[str, str],
        body: bytes,
        integration_id: str,
        tenant: str,
        priority_field: str | None,
        comment_field: str | None,
    ) -> None:
        self.priority_field = priority_field
        self.comment_field = comment_field
        # Svix keeps the message id across retries; without it (an unsigned test call) the
        # body digest still makes identical retries collapse.
        given = svix_delivery_id(headers)
        self.delivery_id = (
            record_id(given, "webhook-id header")
            if given
            else "sha256:" + hashlib.sha256(body).hexdigest()
        )
        self.integration_id = integration_id
        self.tenant = tenant

    def _event(
        self,
        kind: ChangeKind,
        incident_id: str,
        incident: Mapping[str, Any],
        changes: Mapping[str, str | None],
    ) -> ChangeEvent:
        updated_at = incident.get("updated_at")
        source_ts = parse_timestamp(updated_at)
        reference = incident.get("reference")
        extra: dict[str, Any] = {} if source_ts is None else {"source_ts": source_ts}
        return ChangeEvent(
            **self._about(incident_id),
            reference=reference if isinstance(reference, str) else None,
            kind=kind,
            # Plain dicts: pydantic-core builds the FieldChanges faster than Python does.
            changes={f: {"new": v} for f, v in changes.items()},
            # RFC 3339 UTC with fixed microseconds: string order is time order.
            version=updated_at if isinstance(updated_at, str) else None,
            **extra,
        )

    def snapshot(self, kind: ChangeKind, incident: Mapping[str, Any]) -> ChangeEvent:
        incident_id = _incident_id(incident, "incident")
        fields = canonical_fields(
            incident, priority_field=self.priority_field, comment_field=self.comment_field
        )
        return self._event(kind, incident_id, incident, fields)

    def status_update(self, payload: Mapping[str, Any]) -> ChangeEvent:
        incident = payload.get("incident")
        if not isinstance(incident, dict):
            raise WebhookRejected(422, "incident_status_updated_v2: missing incident")
        incident_id = _incident_id(incident, "incident")
        changes: dict[str, str | None] = {}
        status = status_of(payload.get("new_status")) or status_of(incident.get("incident_status"))
        if status is not None:
            changes[STATUS] = status
        message = text(payload.get("message"), "message") or text(
            incident.get("most_recent_update_message"), "incident.most_recent_update_message"
        )
        if message:
            changes[COMMENT] = message
        return self._event(ChangeKind.UPDATED, incident_id, incident, changes)

    def refresh(self, payload: Mapping[str, Any]) -> ChangeEvent:
        incident_id = _incident_id(payload, "private incident")  # only {"id"}
        return ChangeEvent(**self._about(incident_id), kind=ChangeKind.REFRESH)

    def _about(self, incident_id: str) -> dict[str, Any]:
        # The platform's record is the incident itself: its id is both.
        return {
            "delivery_id": self.delivery_id,
            "tenant": self.tenant,
            "integration_id": self.integration_id,
            "external_id": incident_id,
            "platform_incident_id": incident_id,
        }
