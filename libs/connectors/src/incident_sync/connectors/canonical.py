"""The canonical field names as plain `str` values, not the `syncmodel.fields.Field`
members: the connectors key the dicts they build by them, and orjson refuses str-subclass
dict keys."""

from __future__ import annotations

from typing import Final

from incident_sync.syncmodel.fields import Field

TITLE: Final = Field.TITLE.value
DESCRIPTION: Final = Field.DESCRIPTION.value
STATUS: Final = Field.STATUS.value
SEVERITY: Final = Field.SEVERITY.value
PRIORITY: Final = Field.PRIORITY.value
ASSIGNEE: Final = Field.ASSIGNEE.value
ESCALATION_POLICY: Final = Field.ESCALATION_POLICY.value
COMMENT: Final = Field.COMMENT.value
