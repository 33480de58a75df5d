"""incident.io's IncidentV2 read as canonical fields: shared by webhook parsing and `fetch`.

Plain dict lookups on the decoded JSON, no model validation: this runs on the ingress hot
path for every delivery, and only five values of a large object are needed. Wrong types
follow `connectors.jsonshape`: a name, summary or update message that is not a string is
refused (`WrongShape`, 422); a status, severity, role or custom field entry of another shape
is ignored (absent), never read as cleared.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Final

from incident_sync.connectors import canonical as names
from incident_sync.connectors.jsonshape import as_list, present_text, text
from incident_sync.syncmodel.fields import Status

DEFAULT_PRIORITY_FIELD: Final = "Priority"
DEFAULT_COMMENT_FIELD: Final = "External work notes"  # where other tools' notes are written
# Every other custom field is state as `custom.<Field name>`: trigger filters test it (an
# incident that gets the value later starts syncing then). No tool maps these.
CUSTOM_PREFIX: Final = "custom."

# Status categories are fixed by incident.io (only live/learning statuses are configurable),
# so the canonical meaning of a status is read from its category, never from its name.
CATEGORY_STATUS: Final[Mapping[str, str]] = {
    "triage": Status.OPEN.value,
    "live": Status.OPEN.value,
    "paused": Status.OPEN.value,
    "learning": Status.CLOSED.value,
    "closed": Status.CLOSED.value,
    "declined": Status.CLOSED.value,
    "merged": Status.CLOSED.value,
    "canceled": Status.CLOSED.value,
}


def status_of(status: object) -> str | None:
    """The canonical status of an incident_status object (None if unknown)."""
    if not isinstance(status, dict):
        return None
    category = status.get("category")
    return CATEGORY_STATUS.get(category) if isinstance(category, str) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def lead_email(incident: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(whether the incident's lead is known, the lead's e-mail address or None). A lead
    role without an assignee (or one without an address) is None; an assignee or address of
    another shape is not known."""
    for assignment in as_list(incident.get("incident_role_assignments")):
        if not isinstance(assignment, dict):
            continue
        role = assignment.get("role")
        if isinstance(role, dict) and role.get("role_type") == "lead":
            assignee = assignment.get("assignee")
            if assignee is None:
                return True, None
            if not isinstance(assignee, dict):
                return False, None
            email = assignee.get("email")
            if email is not None and not isinstance(email, str):
                return False, None
            return True, email.strip().lower() if email and email.strip() else None
    return False, None


def custom_value(incident: Mapping[str, Any], field_name: str) -> tuple[bool, str | None]:
    """(whether the incident's value of the named custom field is known, its text or
    selected option value). An entry with no values is None (cleared); values of which none
    can be read are not known."""
    wanted = field_name.casefold()
    for entry in as_list(incident.get("custom_field_entries")):
        if not isinstance(entry, dict):
            continue
        field = entry.get("custom_field")
        if not isinstance(field, dict) or str(field.get("name", "")).casefold() != wanted:
            continue
        values = entry.get("values")
        if values is None or values == []:
            return True, None
        for value in as_list(values):
            if not isinstance(value, dict):
                continue
            option = value.get("value_option")
            if isinstance(option, dict) and isinstance(option.get("value"), str):
                return True, option["value"]
            if isinstance(value.get("value_text"), str):
                return True, value["value_text"]
        return False, None
    return False, None


def custom_values(incident: Mapping[str, Any], skip: Collection[str]) -> dict[str, str | None]:
    """`custom.<Field name>` -> the entry's value (options, catalog entries, text, numbers and
    links; several joined by ", "; None when empty), for every custom field not in `skip`."""
    skipped = {name.casefold() for name in skip}
    out: dict[str, str | None] = {}
    for entry in as_list(incident.get("custom_field_entries")):
        field = entry.get("custom_field") if isinstance(entry, dict) else None
        name = field.get("name") if isinstance(field, dict) else None
        if not isinstance(name, str) or not name or name.casefold() in skipped:
            continue
        raw = entry.get("values")
        values = [v for v in map(_entry_value, as_list(raw)) if v is not None]
        if values or raw is None or raw == []:
            out[CUSTOM_PREFIX + name] = ", ".join(values) if values else None
        # else: values none of which can be read: not known, rather than cleared
    return out


def _entry_value(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    option, catalog = value.get("value_option"), value.get("value_catalog_entry")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return str(option["value"])
    if isinstance(catalog, dict) and isinstance(catalog.get("name"), str):
        return str(catalog["name"])
    for key in ("value_text", "value_numeric", "value_link", "value_timestamp"):
        if isinstance(value.get(key), str):
            return str(value[key])
    return None


def canonical_fields(
    incident: Mapping[str, Any],
    *,
    priority_field: str | None = DEFAULT_PRIORITY_FIELD,
    comment_field: str | None = None,
) -> dict[str, str | None]:
    """title, description, status, severity, comment, priority (the `priority_field` custom
    field) and assignee (the incident lead's e-mail), each only when the incident has it.
    With `comment_field` (the field other tools' notes go to), the other custom fields too,
    as `custom.<Field name>`."""
    out: dict[str, str | None] = {}
    if (name := text(incident.get("name"), "incident.name")) is not None:
        out[names.TITLE] = name
    has_summary, summary = present_text(incident, "summary", "incident")
    if has_summary:
        out[names.DESCRIPTION] = summary
    if (status := status_of(incident.get("incident_status"))) is not None:
        out[names.STATUS] = status
    severity = incident.get("severity")
    if isinstance(severity, dict) and (sev_name := _text(severity.get("name"))):
        out[names.SEVERITY] = sev_name.lower()
    if message := text(
        incident.get("most_recent_update_message"), "incident.most_recent_update_message"
    ):
        out[names.COMMENT] = message
    if priority_field:
        has_priority, priority = custom_value(incident, priority_field)
        if has_priority:
            out[names.PRIORITY] = priority
    has_lead, lead = lead_email(incident)
    if has_lead:
        out[names.ASSIGNEE] = lead
    if comment_field is not None:
        out.update(custom_values(incident, [f for f in (priority_field, comment_field) if f]))
    return out


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 (`2021-08-17T13:28:57.801578Z`) as an aware datetime; None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
