"""Canonical fields: the shared vocabulary every connector maps its native fields to and from."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Field(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"
    STATUS = "status"
    SEVERITY = "severity"
    PRIORITY = "priority"
    ASSIGNEE = "assignee"
    ESCALATION_POLICY = "escalation_policy"  # an on-call tool's; most tools have no such field
    # The latest entry of the comment / work-note stream; setting it appends an entry.
    COMMENT = "comment"


# The same names as a type, for config keys that must be one of them.
CanonicalName = Literal[
    "title",
    "description",
    "status",
    "severity",
    "priority",
    "assignee",
    "escalation_policy",
    "comment",
]
assert set(get_args(CanonicalName)) == {f.value for f in Field}


class Status(StrEnum):
    """Canonical status values; each connector maps its own states onto these."""

    OPEN = "open"
    CLOSED = "closed"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
    BIDIRECTIONAL = "bidirectional"

    @property
    def accepts_inbound(self) -> bool:
        return self is not Direction.OUTBOUND

    @property
    def writes_outbound(self) -> bool:
        return self is not Direction.INBOUND


class Owner(StrEnum):
    """Which side is authoritative for a field of one integration."""

    PLATFORM = "platform"  # platform changes sync out; the tool's changes are ignored
    EXTERNAL = "external"  # the tool's changes sync in; writes to the tool are skipped


class ConflictStrategy(StrEnum):
    LAST_WRITE_WINS = "last-write-wins"
    OWNERSHIP_PRIORITY = "ownership-priority"
    MANUAL_REVIEW = "manual-review"


class ReopenPolicy(StrEnum):
    REOPEN = "reopen"  # a reopened incident reopens the linked record (and vice versa)
    COMMENT = "comment"  # the linked record stays closed; a comment says it was reopened
