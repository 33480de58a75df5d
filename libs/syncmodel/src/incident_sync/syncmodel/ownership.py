"""Field ownership: which side is authoritative for each canonical field of an integration.

A rule names the owner (platform or external) and a priority. A field with no rule is shared:
it travels both ways (as the field mapping allows). The per-type defaults below apply to an
integration whose config does not list its rules; an explicit empty list means "no rules".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.fields import Owner, ToolType


class FieldOwnership(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: Owner
    # Only compared with other priorities (ownership-priority): a bounded range is plenty.
    priority: int = Field(default=0, ge=0, le=1_000_000)


def _rules(platform: tuple[F, ...], external: tuple[F, ...]) -> dict[str, FieldOwnership]:
    rules = {f.value: FieldOwnership(owner=Owner.PLATFORM) for f in platform}
    rules.update({f.value: FieldOwnership(owner=Owner.EXTERNAL) for f in external})
    return rules


# The defaults operators know from the ITSM sync guide, in canonical field names
# (ServiceNow assigned_to / Jira assignee = assignee; work_notes / comments = comment).
DEFAULT_OWNERSHIP: Final[Mapping[ToolType, Mapping[str, FieldOwnership]]] = {
    ToolType.SERVICENOW: _rules((F.SEVERITY, F.TITLE, F.DESCRIPTION), (F.ASSIGNEE, F.COMMENT)),
    ToolType.JIRA: _rules((F.SEVERITY, F.PRIORITY), (F.ASSIGNEE, F.COMMENT)),
    ToolType.PAGERDUTY: _rules((F.TITLE, F.DESCRIPTION), (F.ESCALATION_POLICY, F.ASSIGNEE)),
}


def default_ownership(tool: ToolType) -> dict[str, FieldOwnership]:
    return dict(DEFAULT_OWNERSHIP.get(tool, {}))


def accepts_inbound(rules: Mapping[str, FieldOwnership], field: str) -> bool:
    """May a change the tool made to `field` reach the platform?"""
    rule = rules.get(field)
    return rule is None or rule.owner is Owner.EXTERNAL


def writes_outbound(rules: Mapping[str, FieldOwnership], field: str) -> bool:
    """May the platform's value of `field` be written to the tool?"""
    rule = rules.get(field)
    return rule is None or rule.owner is Owner.PLATFORM
