"""The platform's fields (`im platform fields`): the incident's built-in fields a mapping
names, by their canonical names, and the organisation's custom fields with their options.

Built-ins: `title` (the incident's name), `description` (its summary), `status` (one of the
organisation's statuses), `severity` (one of its severities) and `assignee` (the lead role's
user). Custom fields (`GET /v2/custom_fields`) are named `custom.<Field name>`, as the
pipeline's state and trigger filters name them, except the two the options bind to canonical
fields: the priority field is `priority`, the comment field `comment`. A select field's
options come from `GET /v1/custom_field_options` (paged); a catalog-backed field points to
its catalog type (`reference`). incident.io documents no maximum length for any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors import canonical as names
from incident_sync.connectors.incidentio.client import IncidentIoClient
from incident_sync.connectors.incidentio.fields import CUSTOM_PREFIX
from incident_sync.syncmodel.discovered import FieldKind, ToolField

# A custom field's `field_type` (CustomFieldV2) by kind.
FIELD_TYPES: Final[Mapping[str, FieldKind]] = {
    "single_select": "option",
    "multi_select": "options",
    "text": "text",
    "link": "string",
    "numeric": "number",
}
_SELECTS: Final = frozenset({"single_select", "multi_select"})


def kind_of(field_type: str) -> FieldKind:
    """The kind of a custom field of `field_type`; an unknown type is text."""
    return FIELD_TYPES.get(field_type, "text")


def _names(items: list[dict[str, Any]]) -> tuple[str, ...]:
    """The `name`s of statuses or severities, in their rank's order."""
    ranked = sorted(items, key=lambda i: _number(i.get("rank")))
    return tuple(str(i["name"]) for i in ranked if isinstance(i.get("name"), str))


def _number(value: object) -> int:
    return value if isinstance(value, int) else 0


async def read_fields(
    client: IncidentIoClient, *, priority_field: str | None, comment_field: str
) -> list[ToolField]:
    """The built-in fields, then every custom field, as the organisation has them now."""
    statuses = await client.incident_statuses(refresh=True)
    severities = await client.severities(refresh=True)
    roles = await client.incident_roles(refresh=True)
    lead = next((r for r in roles if r.get("role_type") == "lead"), {})
    out = [
        ToolField(name=names.TITLE, label="Name", kind="string"),
        ToolField(name=names.DESCRIPTION, label="Summary", kind="text"),
        ToolField(name=names.STATUS, label="Status", kind="option", allowed=_names(statuses)),
        ToolField(name=names.SEVERITY, label="Severity", kind="option", allowed=_names(severities)),
        ToolField(
            name=names.ASSIGNEE,
            label=str(lead.get("name") or "Incident Lead"),
            kind="user",
            reference="user",
        ),
    ]
    bound = {priority_field: names.PRIORITY, comment_field: names.COMMENT}
    for field in await client.custom_fields(refresh=True):
        label, field_type = field.get("name"), field.get("field_type")
        if not isinstance(label, str) or not isinstance(field_type, str):
            continue  # not a CustomFieldV2: nothing a mapping could name
        catalog = field.get("catalog_type_id")
        allowed: tuple[str, ...] | None = None
        if field_type in _SELECTS and not catalog and isinstance(field.get("id"), str):
            options = await client.custom_field_options(field["id"], refresh=True)
            ranked = sorted(options, key=lambda o: _number(o.get("sort_key")))
            allowed = tuple(str(o["value"]) for o in ranked if isinstance(o.get("value"), str))
        out.append(
            ToolField(
                name=bound.get(label) or f"{CUSTOM_PREFIX}{label}"[:200],
                label=label[:200],
                kind="reference" if catalog else kind_of(field_type),
                allowed=allowed,
                reference=f"catalog_type:{catalog}"
                if isinstance(catalog, str) and catalog
                else None,
            )
        )
    return out
