"""incident.io's IncidentV2 read as canonical fields: shared by webhook parsing and `fetch`.

Plain dict lookups on the decoded JSON, no model validation: this runs on the ingress hot
path for every delivery, and only five values of a large object are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from syncmodel.fields import Field, Status

# Plain `str` values and keys (not the StrEnum members): orjson refuses str-subclass dict keys.
TITLE: Final = Field.TITLE.value
DESCRIPTION: Final = Field.DESCRIPTION.value
STATUS: Final = Field.STATUS.value
SEVERITY: Final = Field.SEVERITY.value
COMMENT: Final = Field.COMMENT.value

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


def canonical_fields(incident: Mapping[str, Any]) -> dict[str, str | None]:
    """title, description, status, severity and comment, each only when the incident has it."""
    out: dict[str, str | None] = {}
    if (name := _text(incident.get("name"))) is not None:
        out[TITLE] = name
    if "summary" in incident:
        out[DESCRIPTION] = _text(incident["summary"])
    if (status := status_of(incident.get("incident_status"))) is not None:
        out[STATUS] = status
    severity = incident.get("severity")
    if isinstance(severity, dict) and (sev_name := _text(severity.get("name"))):
        out[SEVERITY] = sev_name.lower()
    if message := _text(incident.get("most_recent_update_message")):
        out[COMMENT] = message
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
