"""Declared field maps' values as Datadog incident fields (`attributes.fields.<name>`). Pure.

Written (`to_dd`) in the shapes the Incidents API v2 documents (`IncidentFieldAttributes`),
by the field's definition (`GET /api/v2/incidents/config/user-defined-fields`, its numeric
`type`): a dropdown or a textbox `{"type": "dropdown" | "textbox", "value": "..."}`; a
multiselect, textarray, metric tag or autocomplete field `{"type": ..., "value": [...]}`,
whose items travel as text separated by commas (`"checkout, payments"`); an empty value is
`null` (cleared). The API documents no value shape for a number or a datetime field: those
are not written (NotWritable). Read (`from_dd`): a single value as is, a list joined with
`", "`, `null` as cleared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

SINGLE: Final[Mapping[int, str]] = {1: "dropdown", 3: "textbox"}
MULTIPLE: Final[Mapping[int, str]] = {
    2: "multiselect",
    4: "textarray",
    5: "metrictag",
    6: "autocomplete",
}
LIST_SEPARATOR: Final = ", "


class NotWritable(ValueError):
    """A field whose values the API gives no shape for (the message says which)."""


def to_dd(definition: Mapping[str, Any], value: str | None) -> dict[str, object]:
    """The `attributes.fields.<name>` value for `value` in the field of `definition` (a
    definition's attributes)."""
    code, name = definition.get("type"), definition.get("name")
    if isinstance(code, int) and code in SINGLE:
        return {"type": SINGLE[code], "value": value or None}
    if isinstance(code, int) and code in MULTIPLE:
        items = [item.strip() for item in (value or "").split(",") if item.strip()]
        return {"type": MULTIPLE[code], "value": items or None}
    raise NotWritable(f"the field {name!r} has no documented value shape (type {code})")


def from_dd(raw: object) -> tuple[bool, str | None]:
    """(whether the value is known, its text) of an incident's field as Datadog shows it."""
    if not isinstance(raw, Mapping) or "value" not in raw:
        return False, None
    value = raw["value"]
    if value is None or isinstance(value, str):
        return True, value
    if isinstance(value, list):
        return True, LIST_SEPARATOR.join(str(v) for v in value if v is not None) or None
    if isinstance(value, bool | int | float):
        return True, str(value)
    return False, None


def native_values(fields: object, wanted: frozenset[str]) -> dict[str, str | None]:
    """Field name -> text of the `wanted` fields an incident's `attributes.fields` show."""
    out: dict[str, str | None] = {}
    if not isinstance(fields, Mapping):
        return out
    for name in wanted:
        if name in fields:
            known, text = from_dd(fields[name])
            if known:
                out[name] = text
    return out


def forms_of(raw: object) -> tuple[object, ...]:
    """A field's value in the forms a declare rule tests (`Connector.read_for_rule`): a single
    value as is (a dropdown's `SEV-1`), a list's items each; None where `from_dd` knows no
    value (a field shown without one)."""
    known, _ = from_dd(raw)
    if not known or not isinstance(raw, Mapping):
        return ()
    value = raw["value"]
    return tuple(value) if isinstance(value, list) else (value,)
