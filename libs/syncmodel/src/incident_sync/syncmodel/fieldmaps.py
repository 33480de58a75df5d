"""Declared field mappings: one platform field to one field of the tool, a direction, and
either a value map or, towards the tool, a text template.

Pure rules, no I/O: how a value crosses (`to_tool`, `from_tool`: a value, or a skip or a
refusal with its reason, never a guess), how a text template is filled (`render`), and the
check of a list of mappings against the fields the tool and the platform say they have
(`check`, read through `connectors.capabilities.FieldCatalogue`): every problem, each naming
its mapping and field, so a refused mapping is a 422 that says what to fix.

A platform field is a canonical field (`title`, `severity`, ...) or one of the platform's
custom fields, `custom.<name>`; a tool field is the tool's own (API) name. Directions are the
integration's words (`outbound`: to the tool, `inbound`: from it, `bidirectional`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident_sync.syncmodel.discovered import FieldKind, ToolField
from incident_sync.syncmodel.fields import Direction
from incident_sync.syncmodel.fields import Field as Canonical

CUSTOM: Final = "custom."
# What counts as blank differs between regex engines (Python's and Rust's \s take U+0085 and
# U+001C-U+001F, ECMA's, which OpenAPI clients use, takes U+FEFF and not them), so the name's
# first character and its end are spelled out: every engine reads these the same way.
_BLANK: Final = r"\s\x1c-\x1f\x85\ufeff"
_LINE_END: Final = r"\n\r\u2028\u2029"
CUSTOM_NAME: Final = rf"custom\.[^{_BLANK}][^{_LINE_END}]*"
# The same shape inside a URL path, where a name cannot hold a slash.
CUSTOM_PATH_NAME: Final = rf"custom\.[^{_BLANK}/][^{_LINE_END}/]*"
_CUSTOM_NAME: Final = re.compile(CUSTOM_NAME)


def is_custom_field(name: str) -> bool:
    """Whether `name` names a platform custom field (`custom.<name>`, its name not blank-led)."""
    return _CUSTOM_NAME.fullmatch(name) is not None


# Placeholders a template may use besides the platform's fields: the incident's link and its
# reference as people know it (INC-123).
TEMPLATE_EXTRAS: Final = frozenset({"url", "reference"})
TEXT_KINDS: Final[frozenset[FieldKind]] = frozenset({"string", "text"})

PlatformFieldName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=rf"^(({'|'.join(f.value for f in Canonical)})|{CUSTOM_NAME})$",
    ),
]
ToolFieldName = Annotated[str, Field(min_length=1, max_length=200)]


class Unmapped(StrEnum):
    """What a value map does with a value it does not name."""

    SKIP = "skip"  # the field is left as it is on the other side (and the skip is counted)
    DEFAULT = "default"  # the map's default for that direction is written
    REFUSE = "refuse"  # the change is refused with the reason (dead-lettered, visible)


class ValueMap(BaseModel):
    """`values`: platform value -> tool value; `reverse`: tool value -> platform value (by
    default the inverse of `values`, which must then be one-to-one). `default` is the tool
    value for an unmapped platform value, `reverse_default` the platform value for an unmapped
    tool value, when `unmapped` is `default`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    values: dict[str, str] = Field(min_length=1, max_length=500)
    reverse: dict[str, str] | None = Field(default=None, max_length=500)
    unmapped: Unmapped = Unmapped.SKIP
    default: str | None = None
    reverse_default: str | None = None

    def inverse(self) -> dict[str, str] | None:
        """Tool value -> platform value; None where `values` is not one-to-one and no
        `reverse` is given (a tool value would stand for several platform values)."""
        if self.reverse is not None:
            return dict(self.reverse)
        inverse = {tool: platform for platform, tool in self.values.items()}
        return inverse if len(inverse) == len(self.values) else None


# A template's text: `{name}` placeholders (no format spec, conversion or index), `{{` and
# `}}` for braces; what `placeholders` accepts, as a pattern the API's schema shows.
TEMPLATE_PATTERN: Final = r"^([^{}]|\{\{|\}\}|\{[^{}!:\[\]]+\})*$"


def _rules_in_schema(schema: dict[str, Any]) -> None:
    """The rules `_one_way_of_crossing` checks, in the JSON schema (the control API's
    OpenAPI document), so a client sees them before a request is refused."""

    def direction_in(*names: str) -> dict[str, Any]:
        # No `direction` is bidirectional, its default.
        given = {"required": ["direction"], "properties": {"direction": {"enum": list(names)}}}
        return (
            {"anyOf": [{"not": {"required": ["direction"]}}, given]}
            if ("bidirectional" in names)
            else given
        )

    def needs(key: str) -> dict[str, Any]:
        value_map = {"required": [key], "properties": {key: {"type": "string"}}}
        return {"properties": {"value_map": value_map}}

    by_default = {
        "required": ["value_map"],
        "properties": {
            "value_map": {
                "required": ["unmapped"],
                "properties": {"unmapped": {"const": "default"}},
            }
        },
    }
    schema["allOf"] = [
        {  # a template writes to the tool, and is the only way of crossing
            "if": {"required": ["template"], "properties": {"template": {"type": "string"}}},
            "then": {
                "required": ["direction"],
                "properties": {"direction": {"const": "outbound"}, "value_map": {"type": "null"}},
            },
        },
        {
            "if": {"allOf": [by_default, direction_in("outbound", "bidirectional")]},
            "then": needs("default"),
        },
        {
            "if": {"allOf": [by_default, direction_in("inbound", "bidirectional")]},
            "then": needs("reverse_default"),
        },
    ]


class FieldMap(BaseModel):
    """One declared mapping of an integration."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_rules_in_schema)

    platform: PlatformFieldName
    tool: ToolFieldName
    direction: Direction = Direction.BIDIRECTIONAL
    value_map: ValueMap | None = None
    template: str | None = Field(
        default=None, min_length=1, max_length=10_000, pattern=TEMPLATE_PATTERN
    )

    @model_validator(mode="after")
    def _one_way_of_crossing(self) -> FieldMap:
        if self.template is not None:
            if self.value_map is not None:
                raise ValueError("a mapping has a value map or a template, not both")
            if self.direction is not Direction.OUTBOUND:
                raise ValueError("a template only writes to the tool: direction must be outbound")
            placeholders(self.template)  # a malformed template is refused here
        vm = self.value_map
        if vm is not None and vm.unmapped is Unmapped.DEFAULT:
            if self.direction.writes_outbound and vm.default is None:
                raise ValueError("unmapped: default needs `default` (the tool's value)")
            if self.direction.accepts_inbound and vm.reverse_default is None:
                raise ValueError("unmapped: default needs `reverse_default` (the platform's value)")
        return self

    @property
    def name(self) -> str:
        """How problems name it: `platform <-> tool` with its direction's arrow."""
        arrow = {
            Direction.OUTBOUND: "->",
            Direction.INBOUND: "<-",
            Direction.BIDIRECTIONAL: "<->",
        }[self.direction]
        return f"{self.platform} {arrow} {self.tool}"


# -- how a value crosses ----------------------------------------------------------------------
@dataclass(frozen=True)
class Crossed:
    value: str | None


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Refused:
    reason: str


Crossing = Crossed | Skipped | Refused


def to_tool(
    mapping: FieldMap, value: str | None, context: Mapping[str, str | None] | None = None
) -> Crossing:
    """The tool's value for the platform's `value` (`context`: the platform's fields and the
    template extras, for a template)."""
    if not mapping.direction.writes_outbound:
        return Skipped(f"{mapping.name}: not written to the tool")
    if mapping.template is not None:
        return Crossed(render(mapping.template, {**(context or {}), mapping.platform: value}))
    if mapping.value_map is None or value is None or value == "":
        return Crossed(value)
    vm = mapping.value_map
    return _mapped(mapping, value, vm.values, vm.default, "platform")


def from_tool(mapping: FieldMap, value: str | None) -> Crossing:
    """The platform's value for the tool's `value`."""
    if not mapping.direction.accepts_inbound:
        return Skipped(f"{mapping.name}: not taken in from the tool")
    if mapping.value_map is None or value is None or value == "":
        return Crossed(value)
    vm = mapping.value_map
    inverse = vm.inverse()
    if inverse is None:  # `check` refuses such a mapping; a guess would be wrong half the time
        return Refused(f"{mapping.name}: the value map cannot be read backwards")
    return _mapped(mapping, value, inverse, vm.reverse_default, "tool")


def _mapped(
    mapping: FieldMap, value: str, values: Mapping[str, str], default: str | None, side: str
) -> Crossing:
    if value in values:
        return Crossed(values[value])
    vm = mapping.value_map
    assert vm is not None
    if vm.unmapped is Unmapped.DEFAULT and default is not None:
        return Crossed(default)
    reason = f"{mapping.name}: the {side} value {value!r} is not in the value map"
    return Refused(reason) if vm.unmapped is Unmapped.REFUSE else Skipped(reason)


# -- templates --------------------------------------------------------------------------------
def placeholders(template: str) -> set[str]:
    """The names a template fills in (`{title}`, `{custom.Team}`, `{url}`); ValueError for a
    malformed one, or one with a conversion, a format spec, an index or an empty name (a
    template fills in values, it does not run Python's format mini-language on them)."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or spec or conversion or "[" in name:
            raise ValueError(f"template placeholder {{{name}}}: only {{field}} is allowed")
        names.add(name)
    return names


def render(template: str, values: Mapping[str, str | None]) -> str:
    """The template with each placeholder replaced by its value ("" where it has none)."""
    out: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name) or "")
    return "".join(out)


# -- the check against what the tool and the platform have ------------------------------------
# Which kinds a value of one kind can be written into without a value map.
# Text and options go into references and users by name: the connector resolves the record
# the name stands for, and reports a name it cannot resolve.
_FITS: Final[Mapping[FieldKind, frozenset[FieldKind]]] = {
    "string": frozenset({"string", "text", "reference", "user"}),
    "text": frozenset({"string", "text", "reference", "user"}),
    "number": frozenset({"number", "string", "text"}),
    "boolean": frozenset({"boolean", "string", "text"}),
    "datetime": frozenset({"datetime", "string", "text"}),
    "option": frozenset({"option", "string", "text", "reference"}),
    "options": frozenset({"options", "string", "text"}),
    "user": frozenset({"user", "string", "text"}),
    "reference": frozenset({"reference", "string", "text"}),
}


def check(
    mappings: Sequence[FieldMap],
    tool: Sequence[ToolField],
    platform: Sequence[ToolField],
) -> list[str]:
    """Every problem of `mappings` against the fields the tool and the platform have
    (`platform` named as mappings name them: canonical names, `custom.<name>`); empty when
    all hold."""
    tool_fields = {f.name: f for f in tool}
    platform_fields = {f.name: f for f in platform}
    problems = duplicates(mappings)
    for m in mappings:
        target = tool_fields.get(m.tool)
        source = platform_fields.get(m.platform)
        if target is None:
            problems.append(f"{m.name}: the tool has no field {m.tool!r}")
        if source is None:
            problems.append(f"{m.name}: the platform has no field {m.platform!r}")
        if target is None or source is None:
            continue
        if m.direction.writes_outbound:
            forward = m.value_map.values if m.value_map is not None else None
            problems += _crossing(m, source, target, "tool", forward)
        if m.direction.accepts_inbound:
            inverse = m.value_map.inverse() if m.value_map else None
            if m.value_map is not None and inverse is None:
                problems.append(
                    f"{m.name}: several platform values map to one tool value; taking it "
                    "back needs a `reverse` map"
                )
            problems += _crossing(m, target, source, "platform", inverse)
        if m.template is not None:
            problems += _template(m, target, platform_fields)
    return problems


def duplicates(mappings: Sequence[FieldMap]) -> list[str]:
    """A tool field written by two maps, or a platform field taken in by two: the problems
    that need no field list to see."""
    problems: list[str] = []
    written: dict[str, FieldMap] = {}
    taken: dict[str, FieldMap] = {}
    for m in mappings:
        if m.direction.writes_outbound and (other := written.setdefault(m.tool, m)) is not m:
            problems.append(f"{m.name}: the tool field {m.tool!r} is written by {other.name}")
        if m.direction.accepts_inbound and (other := taken.setdefault(m.platform, m)) is not m:
            problems.append(f"{m.name}: {m.platform!r} is taken in by {other.name} too")
    return problems


def _crossing(
    m: FieldMap,
    source: ToolField,
    target: ToolField,
    side: str,
    values: Mapping[str, str] | None,
) -> list[str]:
    """Problems of writing `source`'s values into `target` (on `side`)."""
    if not target.writable:
        return [f"{m.name}: the {side} field {target.name!r} cannot be written"]
    if values:
        allowed = set(target.allowed) if target.allowed is not None else None
        bad = sorted(v for v in set(values.values()) if allowed is not None and v not in allowed)
        default = _default(m, side)
        if default is not None and allowed is not None and default not in allowed:
            bad.append(default)
        if bad:
            return [
                f"{m.name}: the {side} field {target.name!r} does not allow {bad} "
                f"(allowed: {sorted(allowed or ())})"
            ]
        long = [v for v in values.values() if target.max_length and len(v) > target.max_length]
        if long:
            return [f"{m.name}: {long[0]!r} is longer than {target.name!r} keeps"]
        return []
    if m.template is not None and side == "tool":
        return []  # the template writes text: checked on its own
    if target.kind not in _FITS[source.kind]:
        return [
            f"{m.name}: a {source.kind} value cannot be written into the {side}'s "
            f"{target.kind} field {target.name!r} without a value map"
        ]
    if target.allowed is not None and source.allowed is not None:
        outside = sorted(set(source.allowed) - set(target.allowed))
        if outside:
            return [
                f"{m.name}: {outside} are not allowed in the {side} field {target.name!r}; "
                "a value map says what they become"
            ]
    elif target.allowed is not None and target.kind in ("option", "options"):
        return [f"{m.name}: the {side} field {target.name!r} takes only its options: a value map"]
    return []


def _default(m: FieldMap, side: str) -> str | None:
    vm = m.value_map
    if vm is None or vm.unmapped is not Unmapped.DEFAULT:
        return None
    return vm.default if side == "tool" else vm.reverse_default


def _template(m: FieldMap, target: ToolField, platform: Mapping[str, ToolField]) -> list[str]:
    assert m.template is not None
    problems: list[str] = []
    if target.kind not in TEXT_KINDS:
        problems.append(f"{m.name}: a template writes text, {target.name!r} is {target.kind}")
    unknown = sorted(placeholders(m.template) - set(platform) - TEMPLATE_EXTRAS)
    if unknown:
        problems.append(f"{m.name}: the template names no platform field {unknown}")
    return problems
