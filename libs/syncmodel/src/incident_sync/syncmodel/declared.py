"""A side's field mapping with its declared field maps (`IntegrationConfig.field_maps`) over
the one it has anyway (its mapping file, or the identity over the fields its connector maps
in code): what makes a mapped field first-class.

The pipeline only asks a side's `FieldMapping` which platform fields go out and come in
(routing, ownership, conflicts, echo, drift all key by platform field name), so a mapped
field `custom.Team` travels like `title` once it is in `outbound_fields` / `inbound_fields`.
A connector crosses the values at its edge:
- a tool that writes native columns (the mapping engine's `to_native` / `to_canonical`) gets
  the declared ones in the same dicts, with nothing to change;
- a tool that maps in code splits what it is given (`split`: the fields its own code writes,
  and the declared tool fields' values, already crossed) and joins what it read
  (`joined`: its own canonical values, and the declared fields' crossed from the tool's
  native values of `tool_fields()`).
A declared map of a platform field the side already maps replaces that mapping. A text
template is filled from the write's fields and a `context` (the incident's other values, its
`url` and `reference`), and written again when any field it names is written. A value its
value map refuses raises `MappingRefused` (the write does not happen: the caller reports it);
a skipped one is left out (the other side keeps its value). Taken in, a refused or skipped
value is left out too, and `refusals` says why, for whoever reads the record to report it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from incident_sync.syncmodel.fieldmaps import (
    Crossed,
    FieldMap,
    Refused,
    Skipped,
    from_tool,
    placeholders,
    to_tool,
)
from incident_sync.syncmodel.mapping import FieldMapping


class MappingRefused(ValueError):
    """A value the side's value map refuses (`unmapped: refuse`); the message says which."""


class DeclaredMapping(FieldMapping):
    """`base` with `maps` over it (see the module docstring)."""

    def __init__(self, base: FieldMapping, maps: Sequence[FieldMap]) -> None:
        super().__init__(base.config)
        self.base = base
        self.maps = tuple(maps)
        self._out = {m.platform: m for m in self.maps if m.direction.writes_outbound}
        self._in = {m.platform: m for m in self.maps if m.direction.accepts_inbound}
        self._declared = frozenset(m.platform for m in self.maps)
        self._placeholders = {
            m.platform: frozenset(placeholders(m.template))
            for m in self._out.values()
            if m.template is not None
        }

    # -- which platform fields travel ------------------------------------------------------
    def outbound_fields(self) -> frozenset[str]:
        return (self.base.outbound_fields() - self._declared) | frozenset(self._out)

    def inbound_fields(self) -> frozenset[str]:
        return (self.base.inbound_fields() - self._declared) | frozenset(self._in)

    def tool_fields(self) -> frozenset[str]:
        """The tool fields the declared maps read (those taken in)."""
        return frozenset(m.tool for m in self._in.values())

    def written_tool_fields(self) -> frozenset[str]:
        """The tool fields the declared maps write."""
        return frozenset(m.tool for m in self._out.values())

    # -- a connector that maps in code -----------------------------------------------------
    def split(
        self,
        fields: Mapping[str, str | None],
        context: Mapping[str, str | None] | None = None,
    ) -> tuple[dict[str, str | None], dict[str, str | None]]:
        """(the fields the side's own mapping writes, tool field -> value for the declared
        ones). `context`: what a template may name besides `fields` (the incident's link and
        reference). MappingRefused when a value map refuses a value."""
        own = {k: v for k, v in fields.items() if k not in self._declared}
        native: dict[str, str | None] = {}
        values = {**(context or {}), **fields}
        for m in self._out.values():
            if m.platform in fields:
                value = fields[m.platform]
            elif m.template is not None and self._placeholders[m.platform] & set(fields):
                value = values.get(m.platform)  # a field it names changed: written again
            else:
                continue
            crossed = to_tool(m, value, values)
            if isinstance(crossed, Refused):
                raise MappingRefused(crossed.reason)
            if isinstance(crossed, Crossed):
                native[m.tool] = crossed.value
        return own, native

    @property
    def needs_context(self) -> bool:
        """Whether a write needs the incident's other values (`split`'s `context`): a
        template names a field besides its own, or the incident's link or reference."""
        return any(names - {p} for p, names in self._placeholders.items())

    def templated_by(self, fields: Iterable[str]) -> frozenset[str]:
        """The platform fields whose templates name any of `fields` (written again when one
        of those changes)."""
        changed = set(fields)
        return frozenset(p for p, names in self._placeholders.items() if names & changed)

    def skipped(self, fields: Mapping[str, str | None]) -> frozenset[str]:
        """The platform fields of `fields` whose value its map skips (not sent: the tool
        keeps its value there)."""
        return frozenset(
            name
            for name, value in fields.items()
            if (m := self._out.get(name)) is not None
            and isinstance(to_tool(m, value, fields), Skipped)
        )

    def joined(
        self, own: Mapping[str, str | None], native: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """The record's platform fields: `own` (what the side's own mapping read, less the
        fields declared maps replace) and the declared ones crossed from `native` (tool
        field -> value; a field the tool did not show is not known, so it is left out)."""
        out = {k: v for k, v in own.items() if k not in self._declared}
        for m in self._in.values():
            if m.tool in native:
                crossed = from_tool(m, native[m.tool])
                if isinstance(crossed, Crossed):
                    out[m.platform] = crossed.value
        return out

    def refusals(self, native: Mapping[str, str | None]) -> list[tuple[str, str]]:
        """(platform field, why) for each value of `native` (tool field -> value) a value map
        refused to take in, for a report: empty when all crossed or were skipped."""
        reasons: list[tuple[str, str]] = []
        for m in self._in.values():
            if m.tool in native and isinstance(crossed := from_tool(m, native[m.tool]), Refused):
                reasons.append((m.platform, crossed.reason))
        return reasons

    # -- a connector that writes native columns (the mapping engine's interface) ----------
    def to_native(self, canonical: Mapping[str, str | None]) -> dict[str, str | None]:
        own, native = self.split(canonical)
        return {**self.base.to_native(own), **native}

    def to_canonical(self, native: Mapping[str, str | None]) -> dict[str, str | None]:
        return self.joined(self.base.to_canonical(native), native)

    def canonical_of(self, native: str) -> str | None:
        for m in self._in.values():
            if m.tool == native:
                return m.platform
        canonical = self.base.canonical_of(native)
        return None if canonical in self._declared else canonical

    def native_inbound_fields(self) -> frozenset[str]:
        base = frozenset(n for n in self.base.native_inbound_fields() if self.canonical_of(n))
        return base | self.tool_fields()

    def forward_fields(self) -> dict[str, str]:
        out = {k: v for k, v in self.base.forward_fields().items() if k not in self._declared}
        return {**out, **{m.platform: m.tool for m in self._out.values()}}

    def reverse_fields(self) -> dict[str, str]:
        out = {k: v for k, v in self.base.reverse_fields().items() if v not in self._declared}
        return {**out, **{m.tool: m.platform for m in self._in.values()}}


def declared(mapping: FieldMapping) -> DeclaredMapping | None:
    """The side's declared maps, if it has any."""
    return mapping if isinstance(mapping, DeclaredMapping) else None
