"""Declared field maps' values in Jira's shapes (`IntegrationConfig.field_maps`). Pure.

Written (`to_jira`, into the create / edit body's `fields.<id>`), by the field's `schema` from
`GET /field` (FieldDetails):
- `string` (and `date`, `datetime`): the text as is; an ADF field (`description`,
  `environment`, a `textarea` custom field): the text as an ADF document;
- `number`: a JSON number (a value that is not one is refused);
- `option` (a select, radio buttons) and `option-with-child`: `{"value": v}`; `priority`,
  `resolution`, `securitylevel`, `version`, `component`, `group`: `{"name": v}`;
- `array` of options (a multi-select, checkboxes): `[{"value": v}, ...]`; of components or
  versions: `[{"name": v}, ...]`; of strings (`labels`): `[v, ...]`. A list travels as text
  separated by commas (`"API, Database"`): written split on commas (items stripped, empty
  ones dropped), read joined with `", "`;
- `user` (and an array of users): `{"accountId": ...}` of the e-mail address given, found
  through the user search (the caller resolves it: `USER`);
- an empty or cleared value: `null` (`[]` for an array).
Read (`from_jira`), from the value itself (REST v3 or a webhook's v2 body): a string as is
(ADF as text), a number as text, an option's `value`, a named object's `name`, a user's
e-mail address (None where it is hidden: the value is then not known), a list's items
joined with `", "`; `null` is a cleared field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors.jira.adf import body_text, text_to_adf

LIST_SEPARATOR: Final = ", "
ADF_SYSTEM: Final = frozenset({"description", "environment"})
ADF_CUSTOM: Final = "com.atlassian.jira.plugin.system.customfieldtypes:textarea"
VALUE_OBJECTS: Final = frozenset({"option", "option-with-child"})
NAME_OBJECTS: Final = frozenset(
    {"priority", "resolution", "securitylevel", "version", "component", "group", "issuetype"}
)
TEXT_TYPES: Final = frozenset({"string", "date", "datetime", "any"})
USER: Final = "user"
LABELS: Final = "labels"


class NotWritable(ValueError):
    """A value Jira's field cannot take (the message says why)."""


def items_of(value: str) -> list[str]:
    """A list field's items from its text form (comma-separated)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def is_user(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == USER or (
        schema.get("type") == "array" and schema.get("items") == USER
    )


def to_jira(
    field_id: str, schema: Mapping[str, Any], value: str | None, accounts: Mapping[str, str]
) -> object:
    """The `fields.<field_id>` value for `value`. `accounts`: e-mail address -> accountId for
    a user field (every address of `value` is in it). NotWritable where the field's type takes
    no text (a project, an issue link...) or `value` is not of its kind."""
    type_ = schema.get("type")
    if type_ == "array":
        items = items_of(value or "")
        kind = schema.get("items")
        if kind == "string":
            return items
        return [_one(field_id, {"type": kind}, item, accounts) for item in items]
    if not value:
        return None
    return _one(field_id, schema, value, accounts)


def _one(
    field_id: str, schema: Mapping[str, Any], value: str, accounts: Mapping[str, str]
) -> object:
    type_ = schema.get("type")
    if schema.get("system") in ADF_SYSTEM or schema.get("custom") == ADF_CUSTOM:
        return text_to_adf(value)
    if type_ in TEXT_TYPES:
        return value
    if type_ == "number":
        try:
            number = float(value)
        except ValueError:
            raise NotWritable(f"{field_id}: {value!r} is not a number") from None
        return int(number) if number.is_integer() and "." not in value else number
    if type_ in VALUE_OBJECTS:
        return {"value": value}
    if type_ in NAME_OBJECTS:
        return {"name": value}
    if type_ == USER:
        return {"accountId": accounts[value.strip().lower()]}
    raise NotWritable(f"{field_id}: a {type_} field is not written from text")


def from_jira(raw: object) -> tuple[bool, str | None]:
    """(whether the value is known, its text) for a field's value as Jira shows it."""
    if raw is None:
        return True, None
    if isinstance(raw, list):
        items = [from_jira(item) for item in raw]
        if not all(known for known, _ in items):
            return False, None
        return True, LIST_SEPARATOR.join(text for _, text in items if text) or None
    if isinstance(raw, bool):
        return True, "true" if raw else "false"
    if isinstance(raw, int | float):
        return True, str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
    if isinstance(raw, str):
        return True, raw
    if isinstance(raw, Mapping):
        if raw.get("type") == "doc":
            return True, body_text(raw)
        if "accountId" in raw:
            email = raw.get("emailAddress")
            if isinstance(email, str) and email.strip():
                return True, email.strip().lower()
            return False, None  # the address is hidden: the value is not known
        for key in ("value", "name"):
            if isinstance(raw.get(key), str):
                return True, str(raw[key])
    return False, None


def forms_of(raw: object) -> tuple[object, ...]:
    """A field's value in the forms a declare rule tests (`Connector.read_for_rule`): its text
    as `from_jira` reads it, then an object's `key` and `id` (a project by its name, key and
    id; an issue type by its name and id); a list's items each; a user by e-mail address and
    accountId."""
    if isinstance(raw, list):
        return tuple(form for item in raw for form in forms_of(item))
    known, text = from_jira(raw)
    ids = [raw.get(k) for k in ("key", "id", "accountId")] if isinstance(raw, Mapping) else []
    return (text if known else None, *ids)


def native_values(
    fields: Mapping[str, Any], wanted: frozenset[str], label_prefix: str
) -> dict[str, str | None]:
    """Tool field -> text of the `wanted` fields an issue's `fields` show (known ones only).
    The correlation label (`label_prefix`...) is ours, not a value of `labels`."""
    out: dict[str, str | None] = {}
    for field_id in wanted:
        if field_id in fields:
            raw = fields[field_id]
            if field_id == LABELS and isinstance(raw, list):
                raw = [v for v in raw if not (isinstance(v, str) and v.startswith(label_prefix))]
            known, text = from_jira(raw)
            if known:
                out[field_id] = text
    return out
