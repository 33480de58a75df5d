"""Wire models: what flows through the topics.

`ChangeEvent` is a normalized observation of one record on one side; `DeliveryCommand` is one
write to one side. Both are pydantic models serialized with orjson (see `codec`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


def new_id() -> str:
    """128 random bits as hex: a uuid4's entropy without building a UUID (ingress hot path).

    Ids need to be unique, not secret: the random module's generator (seeded from the OS at
    start, and again in a forked child) spares a getrandom syscall per id."""
    return random.getrandbits(128).to_bytes(16).hex()


def utcnow() -> datetime:
    return datetime.now(UTC)


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    # Not an observed change: "re-read this record and push what it holds" (manual sync,
    # private incidents whose webhook carries only an id).
    REFRESH = "refresh"


class Origin(StrEnum):
    USER = "user"  # a person (or another system) changed the record
    SYNC = "sync"  # this service's own write, carried so it is never sent back
    MANUAL = "manual"  # an operator asked for a sync
    RECONCILER = "reconciler"


class CommentAction(StrEnum):
    ADDED = "added"
    EDITED = "edited"
    DELETED = "deleted"


class CommentChange(BaseModel):
    """One entry of a record's comment / work-note stream, by the tool's own comment id.

    Comments are mapped id <-> id across sides, so an edit or delete follows the entry it
    belongs to and a redelivered "added" never makes a second copy.
    """

    model_config = ConfigDict(frozen=True)

    action: CommentAction
    comment_id: str
    body: str | None = None  # plain text (connectors convert ADF / HTML / markdown at the edge)
    author: str | None = None


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    old: str | None = None
    new: str | None = None


class ChangeEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=new_id)
    delivery_id: str  # the sender's own delivery id: the dedupe key for its retries
    tenant: str = "default"
    integration_id: str  # the side it came from (the platform has an integration id too)
    external_id: str  # the record's id in that tool
    reference: str | None = None  # human reference: INC-123, INC0010001
    kind: ChangeKind
    changes: dict[str, FieldChange] = Field(default_factory=dict)  # canonical field -> values
    # What the record says about its platform incident (a correlation field), if anything.
    platform_incident_id: str | None = None
    # A sortable version of the record at the source (an update time, a modification
    # count zero-padded): a snapshot older than one already seen is stale.
    version: str | None = None
    # Fields named by the requester of a refresh; empty means every mapped field.
    only_fields: tuple[str, ...] = ()
    # A change to one comment (kind is still created/updated); None for field-only events.
    comment: CommentChange | None = None
    # Set by an operator's conflict resolution: applying this change settles that conflict.
    resolves_conflict: str | None = None
    # Only these sides receive the writes this change causes (empty: every side it goes
    # to). The reconciler's corrective pushes heal one link, not every link of the incident.
    deliver_to: tuple[str, ...] = ()
    source_ts: datetime = Field(default_factory=utcnow)
    received_at: datetime = Field(default_factory=utcnow)
    actor: str | None = None
    origin: Origin = Origin.USER


class LinkedEvent(BaseModel):
    """A gated change, resolved to its platform incident: what `sync.changes` carries."""

    model_config = ConfigDict(frozen=True)

    event: ChangeEvent
    platform_incident_id: str
    is_platform: bool  # True when the change was observed on the platform side
    # The source record's full known state after this change (canonical fields): a create
    # needs every mapped value, not only what just changed.
    state: dict[str, str | None] = Field(default_factory=dict)
    # Where the incident is already linked: integration id -> external id.
    links: dict[str, str] = Field(default_factory=dict)
    # Integrations whose record of this incident was deleted there: no new one is made.
    detached: tuple[str, ...] = ()
    # Fields of the source record that our own write of an older value overwrote after this
    # change was made: if this change wins, it is written back there too.
    clobbered: tuple[str, ...] = ()


class DeliveryCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: str = Field(default_factory=new_id)
    causation_id: str  # the event that caused it
    tenant: str = "default"
    platform_incident_id: str
    source_integration_id: str  # never written back to
    target_integration_id: str
    target_external_id: str | None = None  # None: create the record
    set_fields: dict[str, str | None] = Field(default_factory=dict)  # canonical field -> value
    # A comment to add / edit / delete on the target; `comment_id` is the SOURCE's comment
    # id (delivery maps it to the target's own id).
    comment: CommentChange | None = None
    attempt: int = 1  # the attempt this message is for (the retry ladder counts from 1)
    source_ts: datetime = Field(default_factory=utcnow)
    received_at: datetime = Field(default_factory=utcnow)
    # Delivery bookkeeping. Every re-publication of a command (a retry, a deferral, a release
    # from a paused integration, a DLQ retry) is a new `hop`, so the dedupe mark tells a
    # redelivered message (same hop) from the next try (next hop).
    hop: int = 0
    not_before: datetime | None = None  # not to be tried before this time
    last_error: str | None = None  # the tool's answer to the last failed attempt
    released: bool = False  # let out of a paused integration's hold: deliver, do not hold

    @property
    def is_create(self) -> bool:
        return self.target_external_id is None
