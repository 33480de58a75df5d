"""Trigger filters: which platform incidents an integration links and syncs.

An integration with a trigger gets a record only for incidents whose canonical state matches
every condition (e.g. severity in [critical, major], a custom field's value). The check is
made whenever the platform incident changes, so an incident that starts to match later is
linked then; one already linked stays linked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _exactly_one_test(schema: dict[str, Any]) -> None:
    # The rule `_one_test` enforces, in the JSON schema (the control API's OpenAPI document):
    # exactly one of the three tests is given a value (a null one counts as not given).
    values = {
        "in": {"type": "array", "items": {"type": "string"}},
        "equals": {"type": "string"},
        "not_in": {"type": "array", "items": {"type": "string"}},
    }
    schema["oneOf"] = [
        {"required": [name], "properties": {name: value}} for name, value in values.items()
    ]


class Condition(BaseModel):
    """One test on one canonical field (`severity`, `status`, or `custom.<Field name>`)."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="forbid", json_schema_extra=_exactly_one_test
    )

    field: str = Field(min_length=1)
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    equals: str | None = None
    not_in: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if sum(x is not None for x in (self.in_, self.equals, self.not_in)) != 1:
            raise ValueError("a condition takes exactly one of: in, equals, not_in")
        return self

    def matches(self, state: Mapping[str, str | None]) -> bool:
        value = state.get(self.field)
        return self.holds_for(() if value is None else (value,))

    def holds_for(self, forms: Collection[str]) -> bool:
        """The test on a value given in one or more forms (a tool's reference by its name and
        its id): `equals` / `in` hold when any form is among the values, `not_in` when none
        is; no form at all (no value) is in no list. Case is folded."""
        folded = {v.casefold() for v in forms}
        if self.equals is not None:
            return self.equals.casefold() in folded
        if self.in_ is not None:
            return not folded.isdisjoint(v.casefold() for v in self.in_)
        assert self.not_in is not None
        return folded.isdisjoint(v.casefold() for v in self.not_in)


class Trigger(BaseModel):
    """All conditions must hold. An empty trigger matches every incident."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: tuple[Condition, ...] = ()

    def matches(self, state: Mapping[str, str | None]) -> bool:
        return all(c.matches(state) for c in self.all)
