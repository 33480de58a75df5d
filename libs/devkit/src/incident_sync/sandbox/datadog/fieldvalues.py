"""The values the Datadog stand-in takes in an incident's `attributes.fields`, as the
Incidents API v2 documents them (`IncidentFieldAttributes`): a single value `{"type":
"dropdown" | "textbox", "value": string | null}` or a multiple one `{"type": "multiselect" |
"textarray" | "metrictag" | "autocomplete", "value": [string] | null}`, for any live field of
the account (`fieldconfig`). A dropdown's or a multiselect's values are among the field's
valid values. The API documents no value shape for a number or a datetime field: those, a
deleted or unknown field, or a value of another shape are refused (400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.sandbox.datadog import fieldconfig

JSON = dict[str, Any]
SINGLE: Final[Mapping[int, str]] = {1: "dropdown", 3: "textbox"}
MULTIPLE: Final[Mapping[int, str]] = {
    2: "multiselect",
    4: "textarray",
    5: "metrictag",
    6: "autocomplete",
}
CHOSEN: Final = frozenset({1, 2})  # kinds whose values are among the valid values


def _live() -> dict[str, JSON]:
    return {
        d["attributes"]["name"]: d["attributes"]
        for d in fieldconfig.definitions()
        if d["attributes"]["deleted"] is None
    }


def checked(name: str, given: object) -> JSON:
    """The stored `{"type", "value"}` of a body's field value, or ValueError saying why."""
    definition = _live().get(name)
    if definition is None or not isinstance(given, dict) or "value" not in given:
        raise ValueError(f"invalid field {name!r}")
    code = definition["type"]
    type_name = SINGLE.get(code) or MULTIPLE.get(code)
    if type_name is None:
        raise ValueError(f"field {name!r}: no value shape for its type")
    if given.get("type", type_name) != type_name:
        raise ValueError(f"field {name!r} is a {type_name}")
    value = given["value"]
    items = [value] if code in SINGLE else value
    if value is not None and (
        not isinstance(items, list) or not all(isinstance(v, str) for v in items)
    ):
        shape = "a string" if code in SINGLE else "a list of strings"
        raise ValueError(f"field {name!r}: the value must be {shape} or null")
    valid = {v["value"] for v in definition.get("valid_values") or []}
    if value is not None and code in CHOSEN and valid and not set(items) <= valid:
        raise ValueError(f"field {name!r}: {sorted(set(items) - valid)} are not valid values")
    return {"type": type_name, "value": value}
