"""A Datadog incident's fields as `ToolField`s, from Datadog's own field definitions. Pure.

Datadog documents a listing of an incident's fields: `GET
/api/v2/incidents/config/user-defined-fields` (Incidents API v2, "Get a list of incident
user-defined fields", marked preview), each definition with its `name` (the key in an
incident's `attributes.fields`, the one the connector writes), `display_name`, `required`,
`valid_values` and a numeric `type`. The reserved fields (severity, state, detection method,
root cause, summary, services, teams) are definitions too (`reserved: true`). The one field
outside `fields` that the connector syncs, the incident's `title` (required on create), is
added from the documented incident schema. Datadog states no length limits, so `max_length`
is None throughout.

Kinds: dropdown -> option, multiselect -> options (both with their valid values, as the API
stores them: `value`, e.g. `SEV-1`), textbox -> text (Datadog's free text box), textarray,
metric tag and autocomplete (services, teams) -> options (any value unless valid values are
given), number -> number, datetime -> datetime; an unknown type is listed as `string`.
Number and datetime fields are listed as not writable: the incidents API documents no value
shape for them (`IncidentFieldAttributes` has single and multiple string values only), so
the connector does not write them (`connectors.datadog.values`) and a field map onto one is
refused where it is declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from incident_sync.syncmodel.discovered import FieldKind, ToolField

KINDS: Final[Mapping[int, FieldKind]] = {
    1: "option",  # dropdown
    2: "options",  # multiselect
    3: "text",  # textbox
    4: "options",  # textarray
    5: "options",  # metrictag
    6: "options",  # autocomplete
    7: "number",
    8: "datetime",
}
UNWRITTEN: Final = frozenset({7, 8})  # number, datetime: no documented value shape
TITLE: Final = ToolField(name="title", label="Title", kind="string", required=True)


def _allowed(values: object) -> tuple[str, ...] | None:
    if not isinstance(values, list):
        return None
    found = tuple(str(v["value"]) for v in values if isinstance(v, dict) and "value" in v)
    return found or None


def tool_field(definition: Mapping[str, Any]) -> ToolField | None:
    """One user-defined field definition (a `data` item), or None for a deleted or
    nameless one."""
    attributes = definition.get("attributes")
    if not isinstance(attributes, dict) or attributes.get("deleted"):
        return None
    name = attributes.get("name")
    if not isinstance(name, str) or not name:
        return None
    kind_code = attributes.get("type")
    kind = KINDS.get(kind_code, "string") if isinstance(kind_code, int) else "string"
    label = attributes.get("display_name")
    return ToolField(
        name=name,
        label=label if isinstance(label, str) else name,
        kind=kind,
        required=attributes.get("required") is True,
        allowed=_allowed(attributes.get("valid_values")),
        writable=kind_code not in UNWRITTEN,
    )


def tool_fields(definitions: Iterable[Mapping[str, Any]]) -> list[ToolField]:
    """The incident's title, then every live definition, in the order Datadog lists them."""
    out = [TITLE]
    seen = {TITLE.name}
    for definition in definitions:
        field = tool_field(definition)
        if field is not None and field.name not in seen:
            seen.add(field.name)
            out.append(field)
    return out
