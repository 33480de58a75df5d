"""The seeded, read-only configuration objects: statuses, severities, custom fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.ids import now as utcnow
from sandbox.ids import rfc3339, ulid

JSON = dict[str, Any]

_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("Triage", "triage", "We're not sure yet if this is an incident."),
    ("Investigating", "live", "We're trying to work out what's going on."),
    ("Fixing", "live", "We know what's wrong and are working on a fix."),
    ("Monitoring", "live", "A fix is out; we're watching to make sure it holds."),
    ("Post-incident", "learning", "Impact is mitigated; we're learning from this incident."),
    ("Closed", "closed", "This incident is over."),
    ("Declined", "declined", "This was not an incident."),
)
_SEVERITIES: tuple[tuple[str, int, str], ...] = (
    ("Minor", 1, "Issues with **low impact**."),
    ("Major", 2, "Issues causing **significant impact**."),
    ("Critical", 3, "Issues causing **very high impact** to customers."),
)
EXTERNAL_NOTES_FIELD = "External work notes"


@dataclass(frozen=True)
class Catalog:
    statuses: list[JSON]
    severities: list[JSON]
    custom_fields: list[JSON]
    incident_type: JSON

    @classmethod
    def seed(cls) -> Catalog:
        at = rfc3339(utcnow())
        statuses = [
            {
                "id": ulid(),
                "name": name,
                "description": desc,
                "category": category,
                "rank": rank,
                "created_at": at,
                "updated_at": at,
            }
            for rank, (name, category, desc) in enumerate(_STATUSES, start=1)
        ]
        severities = [
            {
                "id": ulid(),
                "name": name,
                "description": desc,
                "rank": rank,
                "created_at": at,
                "updated_at": at,
            }
            for name, rank, desc in _SEVERITIES
        ]
        fields = [
            {
                "id": ulid(),
                "name": EXTERNAL_NOTES_FIELD,
                "field_type": "text",
                "description": "Latest work note from the linked ITSM ticket",
                "created_at": at,
                "updated_at": at,
            }
        ]
        incident_type = {
            "id": ulid(),
            "name": "Default",
            "description": "The default incident type",
            "is_default": True,
            "private_incidents_only": False,
            "create_in_triage": "optional",
            "created_at": at,
            "updated_at": at,
        }
        return cls(statuses, severities, fields, incident_type)

    def status(self, status_id: str) -> JSON | None:
        return next((s for s in self.statuses if s["id"] == status_id), None)

    def status_by_name_or_category(self, key: str) -> JSON | None:
        """A status by name, else the lowest-ranked status of that category."""
        wanted = key.strip().lower()
        for s in self.statuses:
            if s["name"].lower() == wanted:
                return s
        return next((s for s in self.statuses if s["category"] == wanted), None)

    def severity(self, severity_id: str) -> JSON | None:
        return next((s for s in self.severities if s["id"] == severity_id), None)

    def severity_by_name(self, name: str) -> JSON | None:
        return next((s for s in self.severities if s["name"].lower() == name.lower()), None)

    def custom_field(self, field_id: str) -> JSON | None:
        return next((f for f in self.custom_fields if f["id"] == field_id), None)

    def custom_field_by_name(self, name: str) -> JSON | None:
        return next((f for f in self.custom_fields if f["name"] == name), None)

    def type_info(self, field: JSON) -> JSON:
        """The read shape an incident's custom_field_entries carry (CustomFieldTypeInfoV2)."""
        keys = ("id", "name", "description", "field_type")
        return {**{k: field[k] for k in keys}, "options": []}
