"""A PagerDuty incident read as canonical fields (REST form and webhook form). Pure.

- title <- `title`;
- status <- `triggered` / `acknowledged` are open, `resolved` is closed;
- priority <- the priority's name (`summary` in references, e.g. "P1"), through the optional
  `priority_map` ("P1=P1,SEV-1=P1"); names that already look canonical (P1..P5) pass as is;
- escalation_policy <- the policy's name (`summary`);
- assignee <- the first assignee's e-mail address: references carry only ids, so readers
  resolve them through the users API (webhooks ask for a re-read, see webhook.py);
- comment <- the newest note (REST reads).
Wrong types follow `connectors.jsonshape`: a title that is not a string is refused
(`WrongShape`, 422); a status, priority or policy of another shape is ignored (absent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from incident_sync.connectors.canonical import (
    ESCALATION_POLICY,
    PRIORITY,
    STATUS,
    TITLE,
)
from incident_sync.connectors.jsonshape import as_list, claimed_id, text
from incident_sync.connectors.pagerduty.options import PagerDutyOptions
from incident_sync.syncmodel.fields import Status

STATUS_IN: Final[Mapping[str, str]] = {
    "triggered": Status.OPEN.value,
    "acknowledged": Status.OPEN.value,
    "resolved": Status.CLOSED.value,
}
KEY_PREFIX: Final = "incident-sync-"
_CANONICAL_PRIORITY = re.compile(r"^P[1-5]$")


def summary(ref: object) -> str | None:
    if isinstance(ref, Mapping):
        value = ref.get("summary") or ref.get("name")
        return value if isinstance(value, str) and value else None
    return None


class PagerDutyFieldMap:
    def __init__(self, priorities: Mapping[str, str] | None = None, key_prefix: str = KEY_PREFIX):
        self._in = {k.casefold(): v for k, v in (priorities or {}).items()}
        self._out: dict[str, str] = {}
        for name, canonical in (priorities or {}).items():
            self._out.setdefault(canonical.casefold(), name)
        self.key_prefix = key_prefix

    @classmethod
    def from_options(cls, options: PagerDutyOptions | Mapping[str, object]) -> PagerDutyFieldMap:
        options = PagerDutyOptions.coerce(options)
        return cls(dict(options.priority_map), options.incident_key_prefix or KEY_PREFIX)

    def priority_in(self, ref: object) -> str | None:
        name = summary(ref)
        if name is None:
            return None
        mapped = self._in.get(name.casefold())
        if mapped is not None:
            return mapped
        return name.upper() if _CANONICAL_PRIORITY.match(name.upper()) else None

    def priority_out(self, canonical: str) -> str:
        return self._out.get(canonical.casefold(), canonical)

    def incident_key(self, platform_incident_id: str) -> str:
        return self.key_prefix + platform_incident_id

    def platform_incident(self, incident_key: object) -> str | None:
        if isinstance(incident_key, str) and incident_key.startswith(self.key_prefix):
            return claimed_id(incident_key[len(self.key_prefix) :])
        return None

    def canonical(self, incident: Mapping[str, Any]) -> dict[str, str | None]:
        """Every field readable without another call (not the assignee's address)."""
        out: dict[str, str | None] = {}
        if (title := text(incident.get("title"), "title")) is not None:
            out[TITLE] = title
        status = incident.get("status")
        if isinstance(status, str) and status in STATUS_IN:
            out[STATUS] = STATUS_IN[status]
        if "priority" in incident:
            priority = incident["priority"]
            if priority is None:
                out[PRIORITY] = None
            elif (mapped := self.priority_in(priority)) is not None:
                out[PRIORITY] = mapped
        if (policy := summary(incident.get("escalation_policy"))) is not None:
            out[ESCALATION_POLICY] = policy
        return out


def assignee_ids(incident: Mapping[str, Any]) -> list[str]:
    """User ids: REST `assignments[].assignee` or webhook `assignees[]`."""
    ids = []
    for item in as_list(incident.get("assignments")):
        if isinstance(item, Mapping) and isinstance(item.get("assignee"), Mapping):
            ids.append(item["assignee"].get("id"))
    for ref in as_list(incident.get("assignees")):
        if isinstance(ref, Mapping):
            ids.append(ref.get("id"))
    return [i for i in ids if isinstance(i, str) and i]


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def version_of(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
