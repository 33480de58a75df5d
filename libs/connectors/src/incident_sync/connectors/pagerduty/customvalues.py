"""Declared field maps' values as PagerDuty incident custom field values. Pure.

A declared map's tool field is `custom_fields.<name>` (as `connectors.pagerduty.catalogue`
names the fields). Written (`to_pd`, a value of `PUT /incidents/{id}/custom_fields/values`)
by the field's `data_type` and `field_type` (`GET /incidents/custom_fields`): a string, URL
or date-time as is; an integer or a float as a JSON number; a boolean from `true` / `false`;
a `multi_value` or `multi_value_fixed` field as a list of its items, which travel as text
separated by commas (`"eu-west-1, us-east-1"`); an empty value clears the field (`null`).
A fixed field's values must be among its `field_options`: checked here, before the incident
is made, since the values are set by a request of their own after the create.
Read (`from_pd`): a string as is, a number or a boolean as text, a list joined with `", "`,
`null` as cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from incident_sync.connectors.pagerduty.catalogue import CUSTOM_PREFIX

LIST_SEPARATOR: Final = ", "
BOOLEANS: Final[Mapping[str, bool]] = {"true": True, "false": False}


class NotWritable(ValueError):
    """A value the custom field cannot take (the message says why)."""


def field_name(tool_field: str) -> str | None:
    """The custom field's name of a declared tool field (`custom_fields.<name>`)."""
    return tool_field[len(CUSTOM_PREFIX) :] if tool_field.startswith(CUSTOM_PREFIX) else None


def to_pd(field: Mapping[str, Any], value: str | None) -> object:
    """The value to send for `value` into `field` (a custom field definition)."""
    name, data_type = field.get("name"), field.get("data_type")
    field_type = str(field.get("field_type", ""))
    if field_type.startswith("multi_value"):
        items = [item.strip() for item in (value or "").split(",") if item.strip()]
        values = [_one(name, data_type, item) for item in items]
    elif value is None or value == "":
        return None
    else:
        values = [_one(name, data_type, value)]
    if field_type.endswith("_fixed"):
        allowed = _options(field)
        if outside := [v for v in values if v not in allowed]:
            raise NotWritable(f"custom field {name}: {outside} are not among its options")
    if field_type.startswith("multi_value"):
        return values or None
    return values[0]


def _options(field: Mapping[str, Any]) -> list[object]:
    """A fixed field's option values (`field_options[].data.value`)."""
    options = field.get("field_options")
    out: list[object] = []
    for option in options if isinstance(options, list) else []:
        data = option.get("data") if isinstance(option, Mapping) else None
        if isinstance(data, Mapping) and "value" in data:
            out.append(data["value"])
    return out


def _one(name: object, data_type: object, value: str) -> object:
    try:
        if data_type == "integer":
            return int(value)
        if data_type == "float":
            return float(value)
    except ValueError:
        raise NotWritable(f"custom field {name}: {value!r} is not a number") from None
    if data_type == "boolean":
        if value.strip().lower() not in BOOLEANS:
            raise NotWritable(f"custom field {name}: {value!r} is not true or false")
        return BOOLEANS[value.strip().lower()]
    return value


def from_pd(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return LIST_SEPARATOR.join(t for t in (from_pd(v) for v in value) if t) or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def native_values(values: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Tool field (`custom_fields.<name>`) -> text of an incident's custom field values."""
    return {
        CUSTOM_PREFIX + str(v["name"]): from_pd(v.get("value"))
        for v in values
        if isinstance(v.get("name"), str)
    }
