"""In-memory incidents: validation, changes and the IncidentV2 read shape."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.ids import rfc3339, ulid
from incident_sync.sandbox.incidentio.catalog import JSON, Catalog

VISIBILITIES = ("public", "private")
MODES = ("standard", "retrospective", "test", "tutorial")
_VALUE_KEYS = ("value_text", "value_numeric", "value_link")
SLACK_TEAM_ID = "T0SANDBOX01"


class ValidationFailed(Exception):
    """A 422: `field` is the request-body path incident.io reports in `source.field`."""

    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


@dataclass
class Incident:
    id: str
    number: int
    name: str
    visibility: str
    mode: str
    status_id: str
    creator: JSON
    created_at: datetime
    updated_at: datetime
    slack_channel_id: str
    summary: str | None = None
    severity_id: str | None = None
    call_url: str | None = None
    custom_values: dict[str, list[JSON]] = field(default_factory=dict)
    most_recent_update_message: str | None = None
    lead: JSON | None = None  # the user holding the lead role


@dataclass(frozen=True)
class Change:
    """What one create/edit did; drives the webhooks."""

    incident: Incident
    created: bool
    fields: tuple[str, ...]
    previous_status: JSON | None = None  # set only when the status moved
    message: str = ""


class IncidentStore:
    def __init__(self, catalog: Catalog, base_url: str = "https://app.incident.io") -> None:
        self.catalog = catalog
        self.base_url = base_url
        self.incidents: dict[str, Incident] = {}
        self.by_idempotency_key: dict[str, str] = {}
        self.api_writes: Counter[str] = Counter()
        self.api_write_log: list[JSON] = []
        self._next_number = 1

    def reset(self) -> None:
        self.incidents.clear()
        self.by_idempotency_key.clear()
        self.api_writes.clear()
        self.api_write_log.clear()
        self._next_number = 1

    def record_api_write(self, incident_id: str, op: str, fields: list[str]) -> None:
        self.api_writes[incident_id] += 1
        self.api_write_log.append(
            {"id": incident_id, "op": op, "fields": sorted(fields), "at": rfc3339(utcnow())}
        )

    # -- reads -------------------------------------------------------------------------
    def get(self, key: str) -> Incident | None:
        """By ULID, or by the numeric part of the reference as the real API allows."""
        if key.isdigit():
            return next((i for i in self.incidents.values() if i.number == int(key)), None)
        return self.incidents.get(key)

    def listing(self, newest_first: bool = True) -> list[Incident]:
        return sorted(self.incidents.values(), key=lambda i: i.number, reverse=newest_first)

    # -- writes ------------------------------------------------------------------------
    def create(
        self,
        *,
        creator: JSON,
        name: str | None,
        visibility: str = "public",
        mode: str = "standard",
        summary: str | None = None,
        status_id: str | None = None,
        severity_id: str | None = None,
        custom_values: dict[str, list[JSON]] | None = None,
        update_message: str | None = None,
        lead: JSON | None = None,
    ) -> Change:
        if status_id is None:
            default = self.catalog.status_by_name_or_category("live")
            assert default is not None
            status_id = default["id"]
        at = utcnow()
        number = self._next_number
        self._next_number += 1
        incident = Incident(
            id=ulid(),
            number=number,
            name=name or f"Incident {number}",
            visibility=visibility,
            mode=mode,
            status_id=status_id,
            creator=creator,
            created_at=at,
            updated_at=at,
            slack_channel_id="C" + secrets.token_hex(5).upper(),
            summary=summary,
            severity_id=severity_id,
            custom_values=dict(custom_values or {}),
            most_recent_update_message=update_message,
            lead=lead,
        )
        self.incidents[incident.id] = incident
        return Change(incident, created=True, fields=(), message=update_message or "")

    def apply(self, incident: Incident, updates: dict[str, Any]) -> Change:
        """Apply already-validated internal updates; only real differences count."""
        changed: list[str] = []
        previous_status: JSON | None = None
        for attr in ("name", "summary", "severity_id", "call_url"):
            if attr in updates and updates[attr] != getattr(incident, attr):
                setattr(incident, attr, updates[attr])
                changed.append(attr.removesuffix("_id"))
        if "status_id" in updates and updates["status_id"] != incident.status_id:
            previous_status = self.catalog.status(incident.status_id)
            incident.status_id = updates["status_id"]
            changed.append("incident_status")
        for field_id, values in (updates.get("custom_values") or {}).items():
            if incident.custom_values.get(field_id, []) != values:
                incident.custom_values[field_id] = values
                if "custom_field_entries" not in changed:
                    changed.append("custom_field_entries")
        if "lead" in updates and updates["lead"] != incident.lead:
            incident.lead = updates["lead"]
            changed.append("incident_role_assignments")
        message = updates.get("update_message")
        if message:
            incident.most_recent_update_message = message
            changed.append("most_recent_update_message")
        if changed:
            # updated_at must move on every change, even two within one microsecond
            incident.updated_at = max(utcnow(), incident.updated_at + timedelta(microseconds=1))
        return Change(incident, False, tuple(changed), previous_status, message or "")

    # -- validation of API write shapes --------------------------------------------------
    def check_status(self, status_id: Any, path: str) -> str:
        if not isinstance(status_id, str) or self.catalog.status(status_id) is None:
            raise ValidationFailed(path, "Incident status not found", "not_found")
        return status_id

    def check_severity(self, severity_id: Any, path: str) -> str:
        if not isinstance(severity_id, str) or self.catalog.severity(severity_id) is None:
            raise ValidationFailed(path, "Severity not found", "not_found")
        return severity_id

    def parse_custom_entries(self, entries: Any, path: str) -> dict[str, list[JSON]]:
        """Write shape `[{custom_field_id, values: [{value_text...}]}]` -> stored read values."""
        if not isinstance(entries, list):
            raise ValidationFailed(path, "must be an array")
        out: dict[str, list[JSON]] = {}
        for n, entry in enumerate(entries):
            here = f"{path}[{n}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
                raise ValidationFailed(f"{here}.values", "values is required")
            field_id = entry.get("custom_field_id")
            if not isinstance(field_id, str) or self.catalog.custom_field(field_id) is None:
                raise ValidationFailed(f"{here}.custom_field_id", "Custom field not found")
            values: list[JSON] = []
            catalog_type = (self.catalog.custom_field(field_id) or {}).get("catalog_type_id")
            for m, value in enumerate(entry["values"]):
                entry_id = value.get("value_catalog_entry_id") if isinstance(value, dict) else None
                if catalog_type and entry_id is not None:
                    if self.catalog.catalog_entry(catalog_type, str(entry_id)) is None:
                        raise ValidationFailed(f"{here}.values[{m}]", "Catalog entry not found")
                    values.append({"value_catalog_entry_id": entry_id})
                    continue
                option_id = value.get("value_option_id") if isinstance(value, dict) else None
                if option_id is not None:
                    if self.catalog.option(field_id, str(option_id)) is None:
                        raise ValidationFailed(
                            f"{here}.values[{m}]", "Custom field option not found"
                        )
                    values.append({"value_option_id": option_id})
                    continue
                kept = {k: value[k] for k in _VALUE_KEYS if isinstance(value, dict) and k in value}
                if not kept or not all(isinstance(v, str) for v in kept.values()):
                    raise ValidationFailed(f"{here}.values[{m}]", "unsupported value")
                values.append(kept)
            out[field_id] = values
        return out

    def parse_role_assignments(self, entries: Any, path: str) -> JSON:
        """`[{incident_role_id, assignee?: {id|email|slack_user_id}}]` -> {"lead": user|None}."""
        if not isinstance(entries, list):
            raise ValidationFailed(path, "must be an array")
        out: JSON = {}
        for n, entry in enumerate(entries):
            here = f"{path}[{n}]"
            role = (
                self.catalog.role(str(entry.get("incident_role_id")))
                if isinstance(entry, dict)
                else None
            )
            if role is None:
                raise ValidationFailed(f"{here}.incident_role_id", "Incident role not found")
            if role["role_type"] != "lead":
                raise ValidationFailed(
                    f"{here}.incident_role_id", "The reporter role can only be set on create"
                )
            assignee = entry.get("assignee")
            if assignee is None:
                out["lead"] = None
                continue
            user = self.catalog.user(assignee) if isinstance(assignee, dict) else None
            if user is None:
                raise ValidationFailed(f"{here}.assignee", "User not found", "not_found")
            out["lead"] = user
        return out

    # -- the read shape --------------------------------------------------------------------
    def _value(self, field: JSON, stored: JSON) -> JSON:
        if "value_option_id" in stored:
            return {"value_option": self.catalog.option(field["id"], stored["value_option_id"])}
        if "value_catalog_entry_id" in stored:
            entry = self.catalog.catalog_entry(
                field.get("catalog_type_id", ""), stored["value_catalog_entry_id"]
            )
            keys = ("id", "name", "aliases", "external_id", "archived_at")
            return {"value_catalog_entry": {k: (entry or {}).get(k) for k in keys}}
        return dict(stored)

    def _roles(self, incident: Incident) -> list[JSON]:
        lead: JSON = {"role": dict(self.catalog.lead_role())}
        if incident.lead is not None:
            lead["assignee"] = dict(incident.lead)
        return [lead]

    def render(self, incident: Incident, *, webhook: bool = False) -> JSON:
        status = self.catalog.status(incident.status_id)
        entries = [
            {
                "custom_field": self.catalog.type_info(f),
                "values": [self._value(f, v) for v in incident.custom_values.get(f["id"], [])],
            }
            for f in self.catalog.custom_fields
        ]
        slug = "".join(c if c.isalnum() else "-" for c in incident.name.lower())[:40].strip("-")
        out: JSON = {
            "id": incident.id,
            "reference": f"INC-{incident.number}",
            "name": incident.name,
            "visibility": incident.visibility,
            "mode": incident.mode,
            "incident_status": dict(status or {}),
            "incident_type": dict(self.catalog.incident_type),
            "creator": incident.creator,
            "incident_role_assignments": self._roles(incident),
            "custom_field_entries": entries,
            "incident_timestamp_values": [],
            "duration_metrics": [],
            "postmortem_document_ids": [],
            "has_debrief": False,
            "permalink": f"{self.base_url}/incidents/{incident.number}",
            "slack_team_id": SLACK_TEAM_ID,
            "slack_channel_id": incident.slack_channel_id,
            "slack_channel_name": f"inc-{incident.number}-{slug}",
            "workload_minutes_late": 0,
            "workload_minutes_sleeping": 0,
            "workload_minutes_total": 0,
            "workload_minutes_working": 0,
            "created_at": rfc3339(incident.created_at),
            "updated_at": rfc3339(incident.updated_at),
        }
        # Optional fields are left out when unset, as the real API does.
        if incident.summary is not None:
            out["summary"] = incident.summary
        if incident.call_url is not None:
            out["call_url"] = incident.call_url
        if incident.severity_id is not None:
            out["severity"] = dict(self.catalog.severity(incident.severity_id) or {})
        if webhook:
            out["related_incidents"] = []
            if incident.most_recent_update_message is not None:
                out["most_recent_update_message"] = incident.most_recent_update_message
        return out
