"""Field ownership: which side is authoritative for each canonical field of an integration.

A rule names the owner (platform or external) and a priority. A field with no rule is shared:
it travels both ways (as the field mapping allows). The per-type defaults below apply to an
integration whose config does not list its rules; an explicit empty list means "no rules".
Each tool type's defaults are its connector's (`syncmodel.tools.ToolTraits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from incident_sync.syncmodel.fields import Owner


class FieldOwnership(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: Owner
    # Only compared with other priorities (ownership-priority): a bounded range is plenty.
    priority: int = Field(default=0, ge=0, le=1_000_000)


def owned_by(platform: Iterable[str], external: Iterable[str]) -> dict[str, FieldOwnership]:
    """Platform-owned and externally owned fields (priority 0): a tool type's defaults."""
    out = {str(f): FieldOwnership(owner=Owner.PLATFORM) for f in platform}
    out.update({str(f): FieldOwnership(owner=Owner.EXTERNAL) for f in external})
    return out


def accepts_inbound(rules: Mapping[str, FieldOwnership], field: str) -> bool:
    """May a change the tool made to `field` reach the platform?"""
    rule = rules.get(field)
    return rule is None or rule.owner is Owner.EXTERNAL


def writes_outbound(rules: Mapping[str, FieldOwnership], field: str) -> bool:
    """May the platform's value of `field` be written to the tool?"""
    rule = rules.get(field)
    return rule is None or rule.owner is Owner.PLATFORM
