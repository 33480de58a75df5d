"""PagerDuty webhook v3 deliveries -> canonical ChangeEvents. Pure.

The envelope is `{"event": {id, event_type, resource_type, occurred_at, agent, data}}`, one
event per delivery. Incident events:
- `incident.triggered`: kind created, the incident's readable fields;
- `incident.acknowledged` / `unacknowledged` / `resolved` / `reopened`: the status;
- `incident.priority_updated`: the priority (None when it was cleared);
- `incident.reassigned` / `escalated` / `delegated`: assignees come as user ids only, and the
  canonical assignee is an e-mail address, so the event asks the pipeline to re-read the
  incident's assignee and escalation policy (kind refresh, only those fields);
- `incident.annotated` (an `incident_note`): a CommentChange with the note id, and the
  canonical `comment` (notes can only be added);
- `incident.custom_field_values.updated` (`incident_field_values`): the fields of
  `changed_custom_fields` the integration's declared maps take in (`declared`: tool field
  `custom_fields.<name>` -> platform field) are re-read (kind refresh, only those fields):
  the values are read as `fetch` reads them, through the one crossing that reads them. A
  change of no mapped field is not synced.
Other incident events (responders, status updates, tasks, workflows...), service events and
`pagey.ping` are well-formed but not synced. The delivery id is `X-Webhook-Id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.canonical import (
    ASSIGNEE,
    COMMENT,
    ESCALATION_POLICY,
    PRIORITY,
    STATUS,
)
from incident_sync.connectors.jsonshape import body_object, header_id, record_id, text
from incident_sync.connectors.pagerduty.fields import (
    STATUS_IN,
    PagerDutyFieldMap,
    parse_time,
    version_of,
)
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    FieldChange,
)

DELIVERY_HEADER: Final = "X-Webhook-Id"
STATUS_EVENTS: Final = frozenset(
    {
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.reopened",
    }
)
REASSIGN_EVENTS: Final = frozenset(
    {"incident.reassigned", "incident.escalated", "incident.delegated"}
)
TRIGGERED: Final = "incident.triggered"
PRIORITY_UPDATED: Final = "incident.priority_updated"
ANNOTATED: Final = "incident.annotated"
CUSTOM_FIELD_VALUES: Final = "incident.custom_field_values.updated"
CUSTOM_PREFIX: Final = "custom_fields."


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    fields: PagerDutyFieldMap,
    integration_id: str,
    tenant: str,
    declared: Mapping[str, str] | None = None,
) -> list[ChangeEvent]:
    event = _event(body)
    event_type = event["event_type"]
    if event.get("resource_type") != "incident":
        return []  # service.*, pagey.ping
    synced = {TRIGGERED, PRIORITY_UPDATED, ANNOTATED, CUSTOM_FIELD_VALUES}
    synced |= STATUS_EVENTS | REASSIGN_EVENTS
    if event_type not in synced:
        return []
    data = event.get("data")
    if not isinstance(data, dict):
        raise WebhookRejected(422, f"{event_type}: missing event.data")
    occurred = parse_time(event.get("occurred_at"))
    delivery_id = header_id(headers, DELIVERY_HEADER) or "event:" + record_id(
        event.get("id"), "event.id"
    )
    agent = event.get("agent")
    actor = agent.get("id") if isinstance(agent, dict) else None
    base: dict[str, Any] = {
        "delivery_id": delivery_id,
        "tenant": tenant,
        "integration_id": integration_id,
        "version": version_of(occurred),
        "actor": actor if isinstance(actor, str) else None,
    }
    if occurred is not None:
        base["source_ts"] = occurred
    if event_type == ANNOTATED:
        return [_note(base, data)]
    if event_type == CUSTOM_FIELD_VALUES:
        return _field_values(base, data, declared or {})
    incident_id = _id(data, "event.data.id")
    base.update(
        external_id=incident_id,
        reference=f"#{data['number']}" if isinstance(data.get("number"), int) else None,
        platform_incident_id=fields.platform_incident(data.get("incident_key")),
    )
    if event_type in REASSIGN_EVENTS:
        return [
            ChangeEvent(**base, kind=ChangeKind.REFRESH, only_fields=(ASSIGNEE, ESCALATION_POLICY))
        ]
    current = fields.canonical(data)
    if event_type == TRIGGERED:
        changes = {f: FieldChange(new=v) for f, v in current.items() if v is not None}
        return [ChangeEvent(**base, kind=ChangeKind.CREATED, changes=changes)]
    if event_type == PRIORITY_UPDATED:
        if PRIORITY not in current:
            return []  # a priority name outside the map is not guessed at
        changes = {PRIORITY: FieldChange(new=current[PRIORITY])}
    else:
        status = data.get("status")
        if not isinstance(status, str) or status not in STATUS_IN:
            raise WebhookRejected(422, f"{event_type}: unknown incident status {status!r}")
        changes = {STATUS: FieldChange(new=STATUS_IN[status])}
    return [ChangeEvent(**base, kind=ChangeKind.UPDATED, changes=changes)]


def _event(body: bytes) -> dict[str, Any]:
    data = body_object(body)
    event = data.get("event")
    if not isinstance(event, dict):
        raise WebhookRejected(422, "missing the event envelope: not a PagerDuty v3 webhook")
    if not isinstance(event.get("event_type"), str) or not event["event_type"]:
        raise WebhookRejected(422, "missing event.event_type")
    return event


def _id(obj: Mapping[str, Any], where: str) -> str:
    return record_id(obj.get("id"), where)


def _field_values(
    base: dict[str, Any], data: Mapping[str, Any], declared: Mapping[str, str]
) -> list[ChangeEvent]:
    incident = data.get("incident")
    changed = data.get("changed_custom_fields")
    if not isinstance(incident, dict) or not isinstance(changed, list):
        raise WebhookRejected(
            422, "incident.custom_field_values.updated: needs data.incident and a list of "
            "data.changed_custom_fields"
        )  # fmt: skip
    names = {CUSTOM_PREFIX + str(v.get("name")) for v in changed if isinstance(v, dict)}
    only = sorted({platform for tool, platform in declared.items() if tool in names})
    if not only:
        return []
    return [
        ChangeEvent(
            **base,
            external_id=_id(incident, "event.data.incident.id"),
            kind=ChangeKind.REFRESH,
            only_fields=tuple(only),
        )
    ]


def _note(base: dict[str, Any], data: Mapping[str, Any]) -> ChangeEvent:
    incident = data.get("incident")
    if not isinstance(incident, dict):
        raise WebhookRejected(422, "incident.annotated: missing data.incident")
    note_id = _id(data, "event.data.id")
    content = text(data.get("content"), "event.data.content")
    if content is None:
        raise WebhookRejected(422, "event.data.content: missing")
    return ChangeEvent(
        **base,
        external_id=_id(incident, "event.data.incident.id"),
        kind=ChangeKind.UPDATED,
        changes={COMMENT: FieldChange(new=content)} if content else {},
        comment=CommentChange(
            action=CommentAction.ADDED, comment_id=note_id, body=content, author=base["actor"]
        ),
    )
