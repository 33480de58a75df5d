"""Canonical field sets of the tools whose connectors translate values themselves.

The mapping file (`syncmodel.mapping`) describes ServiceNow-style native columns. Jira,
PagerDuty, Datadog and Slack connectors map native fields and values in code (transitions,
priorities, users), so their mapping is the identity over the canonical fields each tool can
carry: which fields may come in from the tool, and which may be written to it. Ownership rules
then narrow these per integration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.fields import ToolType
from incident_sync.syncmodel.mapping import FieldMapping, MappingConfig


def _names(*fields: F) -> frozenset[str]:
    return frozenset(f.value for f in fields)


# tool -> (inbound: taken in from the tool, outbound: written to the tool)
TOOL_FIELDS: Final[Mapping[ToolType, tuple[frozenset[str], frozenset[str]]]] = {
    ToolType.JIRA: (
        _names(F.TITLE, F.DESCRIPTION, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.SEVERITY, F.COMMENT),
        _names(F.TITLE, F.DESCRIPTION, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.SEVERITY, F.COMMENT),
    ),
    ToolType.PAGERDUTY: (
        _names(F.TITLE, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.ESCALATION_POLICY, F.COMMENT),
        _names(F.TITLE, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.ESCALATION_POLICY, F.COMMENT),
    ),
    ToolType.DATADOG: (
        _names(F.TITLE, F.DESCRIPTION, F.STATUS, F.SEVERITY),
        _names(F.TITLE, F.DESCRIPTION, F.STATUS, F.SEVERITY),
    ),
    # Outbound-only notifier: it shows everything and takes nothing in.
    ToolType.SLACK: (
        frozenset(),
        _names(F.TITLE, F.DESCRIPTION, F.STATUS, F.SEVERITY, F.PRIORITY, F.ASSIGNEE, F.COMMENT),
    ),
}


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


def tool_mapping(tool: ToolType) -> FieldMapping | None:
    """The identity mapping of a tool that maps its values in code; None for the others."""
    sets = TOOL_FIELDS.get(tool)
    return ToolFieldMapping(*sets) if sets is not None else None
