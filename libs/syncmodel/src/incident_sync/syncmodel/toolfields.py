"""The field mapping of a tool that translates its values in code.

The mapping file (`syncmodel.mapping`) describes native columns of a table-like tool. A tool
whose connector maps native fields and values in code (transitions, priorities, users)
declares instead which canonical fields it can carry (`ToolTraits.fields`): its mapping is the
identity over them, which fields may come in from the tool and which may be written to it.
Ownership rules then narrow these per integration.
"""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.syncmodel.mapping import FieldMapping, MappingConfig
from incident_sync.syncmodel.tools import CanonicalFields


class ToolFieldMapping(FieldMapping):
    """Identity mapping over a fixed set of canonical fields."""

    def __init__(self, inbound: frozenset[str], outbound: frozenset[str]) -> None:
        super().__init__(MappingConfig())
        self._in = inbound
        self._out = outbound

    def outbound_fields(self) -> frozenset[str]:
        return self._out

    def to_native(self, canonical: Mapping[str, str | None]) -> dict[str, str | None]:
        return {k: v for k, v in canonical.items() if k in self._out}

    def inbound_fields(self) -> frozenset[str]:
        return self._in

    def to_canonical(self, native: Mapping[str, str | None]) -> dict[str, str | None]:
        return {k: v for k, v in native.items() if k in self._in}

    def canonical_of(self, native: str) -> str | None:
        return native if native in self._in else None

    def native_inbound_fields(self) -> frozenset[str]:
        return self._in


def tool_mapping(fields: CanonicalFields) -> ToolFieldMapping:
    """The identity mapping over a tool's canonical fields."""
    return ToolFieldMapping(fields.inbound, fields.outbound)
