"""The seeded, read-only configuration objects: statuses, severities, custom fields (a text
field for external notes, a single-select Priority, a catalog-backed Team), incident roles,
users, and the catalog's Team type with its entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.ids import rfc3339, ulid

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
PRIORITY_FIELD = "Priority"
PRIORITY_OPTIONS = ("P1", "P2", "P3", "P4", "P5")
TEAM_FIELD = "Affected team"  # a select nothing maps: what trigger filters test
TEAM_OPTIONS = ("Payments", "Search", "Platform")
SERVICE_FIELD = "Affected service"  # free text: the service's name, as its CI is called
# A catalog-backed field, as incident.io's Team usually is: its values are the entries of a
# catalog type, found by `GET /v3/catalog_entries?identifier=` (name, alias or external id).
CATALOG_TEAM_FIELD = "Team"
CATALOG_TEAMS = ("Payments", "Search", "Platform")
_ROLES: tuple[tuple[str, str, str], ...] = (
    ("Incident Lead", "lead", "lead"),
    ("Reporter", "reporter", "reporter"),
)
# People of the organisation (the same addresses exist in the other sandboxes).
_USERS: tuple[tuple[str, str], ...] = (
    ("Jane Responder", "jane@example.com"),
    ("Alice Agent", "alice@example.com"),
    ("Bob Builder", "bob@example.com"),
    ("Carol Oncall", "carol@example.com"),
)


@dataclass(frozen=True)
class Catalog:
    statuses: list[JSON]
    severities: list[JSON]
    custom_fields: list[JSON]
    incident_type: JSON
    custom_field_options: list[JSON]
    incident_roles: list[JSON]
    users: list[JSON]
    catalog_types: list[JSON]
    catalog_entries: list[JSON]

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
        team_type: JSON = {
            "id": ulid(),
            "name": "Team",
            "description": "The teams of the organisation",
            "type_name": 'Custom["Team"]',
            "is_editable": True,
            "ranked": False,
            "created_at": at,
            "updated_at": at,
        }
        catalog_entries = [
            {
                "id": ulid(),
                "catalog_type_id": team_type["id"],
                "name": name,
                "aliases": [name.lower()],
                "external_id": f"team-{name.lower()}",
                "rank": rank,
                "attribute_values": {},
                "created_at": at,
                "updated_at": at,
            }
            for rank, name in enumerate(CATALOG_TEAMS, start=1)
        ]
        fields: list[JSON] = [
            {
                "id": ulid(),
                "name": EXTERNAL_NOTES_FIELD,
                "field_type": "text",
                "description": "Latest work note from the linked ITSM ticket",
                "created_at": at,
                "updated_at": at,
            },
            {
                "id": ulid(),
                "name": PRIORITY_FIELD,
                "field_type": "single_select",
                "description": "How urgently this needs a response",
                "created_at": at,
                "updated_at": at,
            },
            {
                "id": ulid(),
                "name": TEAM_FIELD,
                "field_type": "single_select",
                "description": "The team whose service is affected",
                "created_at": at,
                "updated_at": at,
            },
            {
                "id": ulid(),
                "name": CATALOG_TEAM_FIELD,
                "field_type": "single_select",
                "description": "The team responding (from the catalog)",
                "catalog_type_id": team_type["id"],
                "created_at": at,
                "updated_at": at,
            },
            {
                "id": ulid(),
                "name": SERVICE_FIELD,
                "field_type": "text",
                "description": "The service that is affected, by name",
                "created_at": at,
                "updated_at": at,
            },
        ]
        options = [
            {"id": ulid(), "custom_field_id": field["id"], "value": value, "sort_key": n * 10}
            for field, values in ((fields[1], PRIORITY_OPTIONS), (fields[2], TEAM_OPTIONS))
            for n, value in enumerate(values, start=1)
        ]
        roles = [
            {
                "id": ulid(),
                "name": name,
                "role_type": role_type,
                "shortform": shortform,
                "description": f"The {name.lower()} of the incident",
                "instructions": "",
                "required": role_type == "lead",
                "created_at": at,
                "updated_at": at,
            }
            for name, role_type, shortform in _ROLES
        ]
        users = [
            {
                "id": ulid(),
                "name": name,
                "email": email,
                "role": "responder",
                "slack_user_id": f"U0{n:09d}",
            }
            for n, (name, email) in enumerate(_USERS, start=1)
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
        return cls(
            statuses,
            severities,
            fields,
            incident_type,
            options,
            roles,
            users,
            [team_type],
            catalog_entries,
        )

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
        return {**{k: field[k] for k in keys}, "options": self.options_of(field["id"])}

    def options_of(self, field_id: str) -> list[JSON]:
        return [o for o in self.custom_field_options if o["custom_field_id"] == field_id]

    def option(self, field_id: str, option_id: str) -> JSON | None:
        return next((o for o in self.options_of(field_id) if o["id"] == option_id), None)

    def catalog_entry(self, type_id: str, entry_id: str) -> JSON | None:
        return next(
            (e for e in self.catalog_entries
             if e["catalog_type_id"] == type_id and e["id"] == entry_id),
            None,
        )  # fmt: skip

    def catalog_entries_named(self, type_id: str, identifier: str) -> list[JSON]:
        """The type's entries `identifier` names: by name, an alias or the external id."""
        return [
            e for e in self.catalog_entries
            if e["catalog_type_id"] == type_id
            and identifier in (e["name"], e["external_id"], *e["aliases"])
        ]  # fmt: skip

    def role(self, role_id: str) -> JSON | None:
        return next((r for r in self.incident_roles if r["id"] == role_id), None)

    def lead_role(self) -> JSON:
        return next(r for r in self.incident_roles if r["role_type"] == "lead")

    def user(self, ref: JSON) -> JSON | None:
        """A user by any of the reference keys the API accepts: id, email, slack_user_id."""
        for key in ("id", "email", "slack_user_id"):
            if isinstance(ref.get(key), str):
                wanted = ref[key].lower() if key == "email" else ref[key]
                for user in self.users:
                    value = user[key].lower() if key == "email" else user[key]
                    if value == wanted:
                        return user
                return None
        return None
