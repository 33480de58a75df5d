"""Deliveries of the incident-sync business rule (docs/servicenow-setup.md) -> ChangeEvents.

Headers: `X-ServiceNow-Delivery` (a GUID per delivery, the dedupe key) and the signature.
Body:
    {"event": "incident.inserted" | "incident.updated" | "incident.deleted",
     "table": "incident", "sys_id", "number", "sys_updated_on" ("yyyy-MM-dd HH:mm:ss", UTC),
     "sys_updated_by", "sys_mod_count" (string int), "updated_fields": [...],
     "old_values": {field: old}, "current": {field: value, ..., "work_notes": latest entry}}
Only native fields the mapping takes in become changes, translated to canonical names and
values by the mapping (so feature flags such as `sync_status` apply here too).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.jsonshape import (
    WrongShape,
    body_object,
    claimed_id,
    header_id,
    record_id,
)
from incident_sync.syncmodel.declared import declared
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange
from incident_sync.syncmodel.mapping import FieldMapping

DELIVERY_HEADER: Final = "X-ServiceNow-Delivery"
TABLE: Final = "incident"
EVENTS: Final[Mapping[str, ChangeKind]] = {
    "incident.inserted": ChangeKind.CREATED,
    "incident.updated": ChangeKind.UPDATED,
    "incident.deleted": ChangeKind.DELETED,
}
# Journal fields read back as the latest entry; an empty one means "no new entry", never
# "the notes were cleared", so it is not a change.
JOURNAL_FIELDS: Final = frozenset({"work_notes", "comments"})
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    mapping: FieldMapping,
    integration_id: str,
    tenant: str,
    correlation_field: str,
) -> list[ChangeEvent]:
    data = body_object(body)
    if data.get("table") != TABLE:
        return []  # the rule fired on another table (e.g. copied to change_request)
    event = data.get("event")
    kind = EVENTS.get(event) if isinstance(event, str) else None
    if kind is None:
        raise WebhookRejected(422, f"unknown event {event!r}")
    sys_id = record_id(data.get("sys_id"), "sys_id")
    current = _dict(data, "current")
    mod_count = _mod_count(data.get("sys_mod_count"))
    delivery_id = header_id(headers, DELIVERY_HEADER) or (
        f"{sys_id}:{mod_count}" if mod_count is not None else sys_id
    )
    changes = _changes(kind, data, current, mapping)
    extra: dict[str, Any] = {}
    if mapped := _declared_changed(kind, data, current, mapping):
        # A declared map's column may be a reference (a sys_id here): the gate reads the
        # record through the connector, which shows it by name, rather than take it as sent.
        # A new record's are left out: the next read shows them.
        if kind is ChangeKind.UPDATED:
            kind, changes, extra["only_fields"] = ChangeKind.REFRESH, {}, mapped
        else:
            maps = declared(mapping)
            taken = {m.platform for m in maps.maps} if maps is not None else set()
            changes = {k: v for k, v in changes.items() if k not in taken}
    if (updated_on := data.get("sys_updated_on")) is not None:
        extra["source_ts"] = _timestamp(updated_on)
    actor = data.get("sys_updated_by")
    number = data.get("number")
    # A field people can edit: a value that is no id is ignored (the link, if any, stands).
    platform_id = claimed_id(_value(current.get(correlation_field), f"current.{correlation_field}"))
    return [
        ChangeEvent(
            delivery_id=delivery_id,
            tenant=tenant,
            integration_id=integration_id,
            external_id=sys_id,
            reference=number if isinstance(number, str) and number else None,
            kind=kind,
            changes=changes,
            platform_incident_id=platform_id or None,
            # Zero-padded so that string order is update order, like every other version.
            version=f"{mod_count:010d}" if mod_count is not None else None,
            actor=actor if isinstance(actor, str) and actor else None,
            **extra,
        )
    ]


def _changes(
    kind: ChangeKind, data: Mapping[str, Any], current: Mapping[str, Any], mapping: FieldMapping
) -> dict[str, FieldChange]:
    if kind is ChangeKind.DELETED:
        return {}
    inbound = mapping.native_inbound_fields()
    updated = data.get("updated_fields")
    if updated is not None and (
        not isinstance(updated, list) or not all(isinstance(f, str) for f in updated)
    ):
        raise WebhookRejected(422, "updated_fields must be a list of field names")
    old_values = data.get("old_values") or {}
    if not isinstance(old_values, dict):
        raise WebhookRejected(422, "old_values must be an object")

    if kind is ChangeKind.CREATED or updated is None:
        names = [f for f in inbound if f in current]
    else:
        names = [f for f in updated if f in inbound]
    out: dict[str, FieldChange] = {}
    for name in sorted(names):
        new = _value(current.get(name), f"current.{name}")
        # On insert every field is "new": empty ones carry nothing worth syncing.
        if not new and (name in JOURNAL_FIELDS or kind is ChangeKind.CREATED):
            continue
        mapped = mapping.to_canonical({name: new})
        if not mapped:
            continue  # a code the value map does not know is not guessed at
        (canonical, value), *_ = mapped.items()
        old = None
        if name in old_values:
            old_value = _value(old_values[name], f"old_values.{name}")
            old = mapping.to_canonical({name: old_value}).get(canonical)
        out[str(canonical)] = FieldChange(old=old, new=value)  # plain str key for orjson
    return out


def _declared_changed(
    kind: ChangeKind, data: Mapping[str, Any], current: Mapping[str, Any], mapping: FieldMapping
) -> tuple[str, ...]:
    """The inbound columns of a declared map this delivery changes (every inbound one it
    carries when it does), or () when it changes none."""
    maps = declared(mapping)
    if maps is None or kind is ChangeKind.DELETED:
        return ()
    updated = data.get("updated_fields")
    names = updated if isinstance(updated, list) else list(current)
    inbound = mapping.native_inbound_fields()
    changed = tuple(sorted(n for n in names if isinstance(n, str) and n in inbound))
    return changed if set(changed) & maps.tool_fields() else ()


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise WebhookRejected(422, f"missing {key} object")
    return value


def _value(value: object, where: str) -> str | None:
    """Every Table API value is a string; tolerate what a hand-edited rule may send (numbers,
    booleans, a reference as `{link, value}`). Anything else is refused, naming the field."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and "value" in value:  # a reference sent as {link, value}
        return _value(value["value"], where)
    raise WrongShape(where, "expected a string")


def _mod_count(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise WebhookRejected(422, "sys_mod_count: expected a non-negative integer")


def _timestamp(value: object) -> datetime:
    try:
        return datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise WebhookRejected(422, "sys_updated_on: expected 'yyyy-MM-dd HH:mm:ss'") from None
