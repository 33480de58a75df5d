"""A PagerDuty incident's fields as `ToolField`s. Pure.

The built-in fields the connector syncs, by their REST names: `title` (required; 1,024
characters, the bound the connector keeps, see `connector.TITLE_MAX`), `status` and
`urgency` with the values the REST reference enumerates, `priority` with the account's
priority names (`GET /priorities`), `escalation_policy` (a reference to an escalation
policy) and `assignments` (users). Then the incident custom fields (`GET
/incidents/custom_fields?include[]=field_options`), named `custom_fields.<name>` as their
values are set (`PUT /incidents/{id}/custom_fields/values`), which keeps them apart from the
built-in names:

- `data_type` boolean -> boolean, integer / float -> number, datetime -> datetime, string /
  url -> string;
- `field_type` single_value_fixed -> option, multi_value_fixed -> options (their
  `field_options` values are the allowed ones), multi_value -> options of any value,
  single_value -> the data type's kind.
The REST reference states no length limit for a custom field's value: `max_length` is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from incident_sync.syncmodel.discovered import FieldKind, ToolField

CUSTOM_PREFIX: Final = "custom_fields."
STATUSES: Final = ("triggered", "acknowledged", "resolved")
URGENCIES: Final = ("high", "low")
DATA_KINDS: Final[Mapping[str, FieldKind]] = {
    "boolean": "boolean",
    "integer": "number",
    "float": "number",
    "datetime": "datetime",
    "string": "string",
    "url": "string",
}


def built_in(priorities: Sequence[str], title_max: int) -> list[ToolField]:
    """The incident's own fields that the connector reads and writes."""
    return [
        ToolField(name="title", label="Title", kind="string", required=True, max_length=title_max),
        ToolField(name="status", label="Status", kind="option", allowed=STATUSES),
        ToolField(name="urgency", label="Urgency", kind="option", allowed=URGENCIES),
        ToolField(
            name="priority", label="Priority", kind="option", allowed=tuple(priorities) or None
        ),
        ToolField(
            name="escalation_policy",
            label="Escalation policy",
            kind="reference",
            reference="escalation_policy",
        ),
        ToolField(name="assignments", label="Assignee", kind="user", reference="user"),
    ]


def _options(field: Mapping[str, Any]) -> tuple[str, ...] | None:
    options = field.get("field_options")
    if not isinstance(options, list):
        return None
    values = []
    for option in options:
        data = option.get("data") if isinstance(option, dict) else None
        if isinstance(data, dict) and data.get("value") is not None:
            values.append(str(data["value"]))
    return tuple(values) or None


def custom_field(field: Mapping[str, Any]) -> ToolField | None:
    """One custom field of the listing, or None for one without a name."""
    name = field.get("name")
    if not isinstance(name, str) or not name:
        return None
    data_kind = DATA_KINDS.get(str(field.get("data_type")), "string")
    field_type = field.get("field_type")
    kind: FieldKind = data_kind
    allowed = None
    if field_type == "single_value_fixed":
        kind, allowed = "option", _options(field)
    elif field_type == "multi_value_fixed":
        kind, allowed = "options", _options(field)
    elif field_type == "multi_value":
        kind = "options"
    label = field.get("display_name")
    return ToolField(
        name=CUSTOM_PREFIX + name,
        label=label if isinstance(label, str) else name,
        kind=kind,
        allowed=allowed,
    )


def tool_fields(
    priorities: Sequence[str], custom: Iterable[Mapping[str, Any]], *, title_max: int
) -> list[ToolField]:
    """The built-in fields, then the custom fields in the order PagerDuty lists them."""
    out = built_in(priorities, title_max)
    for field in custom:
        described = custom_field(field)
        if described is not None:
            out.append(described)
    return out
