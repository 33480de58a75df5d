"""The fields of the Jira issues an integration syncs, as `ToolField`s. Pure.

Read from two answers of Jira Cloud REST v3:
- the create metadata of the integration's project and issue type (`GET
  /issue/createmeta/{project}/issuetypes/{issueTypeId}`, FieldCreateMetadata): the fields on
  its create screen, with `required`, `allowedValues`, `schema` and `operations`;
- the site's field list (`GET /field`, FieldDetails): the fields the screen does not show.
  Of those, the system ones are listed too (status, resolution, created, ...) as not
  writable, except `status`, which the API changes through transitions. A custom field off
  the screen belongs to another project or issue type and is left out.
The edit metadata (`GET /issue/{key}/editmeta`) is per issue (its screen and permissions can
differ from one issue to the next), so discovery does not read it: what a create can set is
what the integration's records are made with.

Kinds from the schema: `string` -> string, except the ADF fields (`description`,
`environment`, a `textarea` custom field) -> text; `number` -> number; `date` / `datetime` ->
datetime; `option`, `priority`, `resolution`, `issuetype`, `status`, `securitylevel`,
`option-with-child` -> option; `array` of options, components, versions or strings (labels)
-> options; `user` (or an array of users) -> user; `project`, `group`, `issuelinks`, `team` ->
reference; anything else -> string. `allowed` are the allowed values' names (`name`, else a
custom option's `value`) for option kinds. Length limits are Jira's documented ones: 255 for
the summary, 32,767 for a text field (`connectors.jira.limits`); others state none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from incident_sync.connectors.jira.limits import SUMMARY_MAX, TEXT_MAX
from incident_sync.syncmodel.discovered import FieldKind, ToolField

CUSTOM: Final = "com.atlassian.jira.plugin.system.customfieldtypes:"
ADF_SYSTEM: Final = frozenset({"description", "environment"})
ADF_CUSTOM: Final = frozenset({CUSTOM + "textarea"})
OPTION_TYPES: Final = frozenset(
    {"option", "priority", "resolution", "issuetype", "status", "securitylevel"}
)
OPTION_ITEMS: Final = frozenset({"option", "component", "version", "string"})
REFERENCES: Final[Mapping[str, str]] = {
    "project": "project",
    "group": "group",
    "issuelinks": "issue",
    "team": "team",
}
TRANSITIONED: Final = "status"  # not set by a create or an edit, but by a transition


def kind_of(schema: Mapping[str, Any]) -> tuple[FieldKind, str | None]:
    """The kind of a field with this schema, and what it refers to (for users, references)."""
    type_ = schema.get("type")
    items = schema.get("items")
    if schema.get("system") in ADF_SYSTEM or schema.get("custom") in ADF_CUSTOM:
        return "text", None
    if type_ == "string":
        return "string", None
    if type_ == "number":
        return "number", None
    if type_ in ("date", "datetime"):
        return "datetime", None
    if type_ in OPTION_TYPES or type_ == "option-with-child":
        return "option", None
    if type_ == "user" or (type_ == "array" and items == "user"):
        return "user", "user"
    if type_ == "array" and items in OPTION_ITEMS:
        return "options", None
    target = items if type_ == "array" else type_
    if isinstance(target, str) and target in REFERENCES:
        return "reference", REFERENCES[target]
    return "string", None


def _allowed(values: object) -> tuple[str, ...] | None:
    if not isinstance(values, list):
        return None
    names = []
    for value in values:
        if isinstance(value, dict):
            name = value.get("name", value.get("value"))
            if name is not None:
                names.append(str(name))
    return tuple(names) or None


def _limit(field_id: str, kind: FieldKind) -> int | None:
    if field_id == "summary":
        return SUMMARY_MAX
    return TEXT_MAX if kind == "text" else None


def _schema(field: Mapping[str, Any]) -> Mapping[str, Any]:
    schema = field.get("schema")
    return schema if isinstance(schema, dict) else {}


def screen_field(meta: Mapping[str, Any]) -> ToolField | None:
    """One FieldCreateMetadata of the create screen."""
    field_id = meta.get("fieldId", meta.get("key"))
    if not isinstance(field_id, str) or not field_id:
        return None
    kind, reference = kind_of(_schema(meta))
    name = meta.get("name")
    operations = meta.get("operations")
    return ToolField(
        name=field_id,
        label=name if isinstance(name, str) else field_id,
        kind=kind,
        required=meta.get("required") is True,
        allowed=_allowed(meta.get("allowedValues")) if kind in ("option", "options") else None,
        max_length=_limit(field_id, kind),
        reference=reference,
        writable=not isinstance(operations, list) or bool(operations),
    )


def site_field(details: Mapping[str, Any]) -> ToolField | None:
    """One FieldDetails of a system field off the create screen."""
    field_id = details.get("id")
    if not isinstance(field_id, str) or not field_id or details.get("custom") is True:
        return None
    kind, reference = kind_of(_schema(details))
    name = details.get("name")
    return ToolField(
        name=field_id,
        label=name if isinstance(name, str) else field_id,
        kind=kind,
        max_length=_limit(field_id, kind),
        reference=reference,
        writable=field_id == TRANSITIONED,
    )


def tool_fields(
    screen: Iterable[Mapping[str, Any]], site: Iterable[Mapping[str, Any]]
) -> list[ToolField]:
    """The create screen's fields in its order, then the site's system fields it lacks."""
    out: list[ToolField] = []
    seen: set[str] = set()
    for described in [screen_field(m) for m in screen] + [site_field(d) for d in site]:
        if described is not None and described.name not in seen:
            seen.add(described.name)
            out.append(described)
    return out
