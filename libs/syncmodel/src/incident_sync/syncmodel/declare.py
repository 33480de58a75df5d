"""Declare from the tool: an integration's inbound create rule.

A record of the integration's tool that has no linked platform incident, and whose canonical
state matches the rule's `when` (the condition language of `syncmodel.trigger`, tested on the
tool record's state: e.g. `priority` equals `P1`), declares a platform incident and is linked
to it; from then on the pair syncs like any other. Off unless configured
(`IntegrationConfig.declare`).

A condition names a platform field the record's state carries (a canonical field, or a
`custom.<name>` its mapping takes in), or the tool record's own field, `tool.<API field
name>` (`tool.assignment_group`, `tool.issuetype`, `tool.urgency`): read from the record for
the rule only (`ToolValues`, by the connector's `read_for_rule`), never synced. A tool value
comes in its forms: a reference or an object by what people see and by its id (a group's name
and its sys_id; an issue type's name and id; a project's name, key and id; a service's
summary and id), a list by each item; a condition holds when any form passes its test
(`Condition.holds_for`). A `tool.` field the record does not have at all (not a field of
that tool) fails every test, `not_in` too: a misspelt name matches nothing rather than
everything.

Exactly one incident per record: the platform's create is keyed by `declare_key`, derived
from the integration and the record id only, so a redelivered webhook, two workers racing, a
retry after a crash between the platform's answer and the link, and the reconciler's poll of
the same record all get the one incident the first create made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, model_validator

from incident_sync.syncmodel.fields import Field
from incident_sync.syncmodel.ownership import FieldOwnership, accepts_inbound
from incident_sync.syncmodel.trigger import Trigger

TOOL: Final = "tool."
# Tool field (its API name, without `tool.`) -> the value's forms (empty: the field is empty).
ToolValues = Mapping[str, tuple[str, ...]]
NO_TOOL_VALUES: Final[ToolValues] = MappingProxyType({})
CANONICAL: Final = frozenset(f.value for f in Field)


def tool_field(name: str) -> str | None:
    """The tool field a condition's `field` names (`tool.<name>`), or None for a platform
    field."""
    return name[len(TOOL) :] if name.startswith(TOOL) else None


def _condition_fields(schema: dict[str, Any]) -> None:
    # What a condition may name, in the JSON schema (the control API's OpenAPI document): a
    # canonical field or `tool.<API field name>`. A `custom.<name>` is taken too where the
    # integration's mapping takes it in: that depends on the mapping, so it is said, not
    # patterned (a request naming one the mapping lacks is a 422 naming it).
    names = "|".join(sorted(CANONICAL))
    field = {
        "type": "string",
        "pattern": rf"^(({names})|tool\.[\s\S]+)$",
        "description": "A canonical field, tool.<API field name>, or a custom.<name> the "
        "integration's mapping takes in.",
    }
    when = schema["properties"]["when"]
    schema["properties"]["when"] = {
        "allOf": [when, {"properties": {"all": {"items": {"properties": {"field": field}}}}}]
    }


class Declare(BaseModel):
    """The rule: a record matching `when` (all its conditions) declares an incident."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_condition_fields)

    when: Trigger

    @model_validator(mode="after")
    def _tool_fields_named(self) -> Declare:
        for n, c in enumerate(self.when.all):
            if tool_field(c.field) == "":
                raise ValueError(f"when.all.{n}: `tool.` names no field (tool.<API field name>)")
        return self

    def tool_fields(self) -> frozenset[str]:
        """The tool fields the conditions name (`tool.<name>`): what a read for the rule asks
        the connector for."""
        return frozenset(t for c in self.when.all if (t := tool_field(c.field)) is not None)

    def matches(self, state: Mapping[str, str | None], tool: ToolValues = NO_TOOL_VALUES) -> bool:
        """Every condition holds: on `state` (the record's platform fields) or, for a
        `tool.<name>` condition, on `tool` (see the module docstring)."""
        for c in self.when.all:
            name = tool_field(c.field)
            if name is None:
                if not c.matches(state):
                    return False
            elif name not in tool or not c.holds_for(tool[name]):
                return False
        return True


def unseen_fields(rule: Declare, inbound: Collection[str]) -> list[str]:
    """A problem per condition naming a field the integration never sees: not canonical, not
    a `custom.<name>` its mapping takes in (`inbound`), nor `tool.<name>`. Empty when all
    can be seen."""
    problems = []
    for n, c in enumerate(rule.when.all):
        if c.field in CANONICAL or tool_field(c.field) or c.field in inbound:
            continue
        custom = sorted(f for f in inbound if f not in CANONICAL)
        taken = f"its mapping takes in {', '.join(custom)}" if custom else "it takes in none"
        problems.append(
            f"declare.when.all.{n}: {c.field!r} is no field of the record: name a canonical "
            f"field, a custom field its mapping takes in ({taken}), or the tool's own field "
            "as tool.<API field name>"
        )
    return problems


def unknown_tool_fields(rule: Declare, listed: Collection[str]) -> list[str]:
    """A problem per `tool.<name>` condition whose field is not among those the tool lists
    (`listed`, its field catalogue)."""
    return [
        f"declare.when.all.{n}: the tool lists no field {name!r}"
        for n, c in enumerate(rule.when.all)
        if (name := tool_field(c.field)) and name not in listed
    ]


def declare_key(integration_id: str, external_id: str) -> str:
    """The seed of the platform create's idempotency key: the same for every attempt to
    declare one record, whichever process makes it."""
    return f"declare:{integration_id}:{external_id}"


def should_declare(
    rule: Declare | None,
    linked: bool,
    state: Mapping[str, str | None],
    tool: ToolValues = NO_TOOL_VALUES,
) -> bool:
    """Whether an observed record declares an incident: a rule is configured, the record is
    not linked, and its state (and its tool values, `tool`) match the rule."""
    return rule is not None and not linked and rule.matches(state, tool)


def declared_fields(
    state: Mapping[str, str | None],
    inbound: Collection[str],
    rules: Mapping[str, FieldOwnership],
) -> dict[str, str | None]:
    """What the new incident is created with: the record's values the integration may
    contribute (its mapping takes them in, the platform does not own them), as for any change
    of a linked record; empty values are left to the platform's defaults."""
    return {f: v for f, v in state.items() if v and f in inbound and accepts_inbound(rules, f)}
