"""What the gate knows of one event while its guards look at it (`Screening`), and what the
gate decides about it (`GateResult`).

A guard (`stages.gate.guards`) reads the screening and either lets the event on to the next
guard, adding what it found out (the gate's one read, the fields that are not stale, the
platform incident, the changes that are news), or answers a `GateResult`: dropped with its
rule's reason, or passed on a path of its own (a comment by id, a deleted record).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.outbound.stages.gate.read import GateRead
from incident_sync.outbound.state import StateStore, parse_hash
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, LinkedEvent, Origin
from incident_sync.syncstate import keys
from incident_sync.syncstate.timeline import Entry

# Commands queued on a pipeline: what the gate learnt, sent with the delivery's dedupe mark.
Writes = Callable[[Pipeline], None]


@dataclass(frozen=True)
class GateResult:
    linked: LinkedEvent | None
    reason: str  # "passed" or why it was dropped
    # What the gate learnt (the record's values as the event shows them), queued on a
    # pipeline: `Gate.finish` sends it with the delivery's dedupe mark. For a change it
    # passed, only once the change is durable downstream: remembered first, a crash before
    # the publish would make the redelivered change look like a no-op, and lose it.
    writes: Writes | None = None
    redis: Redis | None = None
    # What the incident's timeline records of the decision (`Gate.process` adds it; written
    # by `Gate.finish` in the same round trip).
    incident: str | None = None
    entries: tuple[Entry, ...] = ()
    reference: str | None = None

    @property
    def commit(self) -> Callable[[], Awaitable[None]] | None:
        """The writes on their own."""
        writes, redis = self.writes, self.redis
        if writes is None or redis is None:
            return None

        async def commit() -> None:
            async with redis.pipeline(transaction=False) as pipe:
                writes(pipe)
                await pipe.execute()

        return commit


@dataclass
class Screening:
    """One event on its way through the guards. `event` is the change as the guards see it
    now (a re-read replaces its values; an echo by version keeps only the other fields)."""

    event: ChangeEvent
    side: IntegrationConfig | None
    platform_id: str
    store: StateStore
    # Decided by the event as it arrived (a re-read turns a refresh into an update).
    forced: bool = False
    read: GateRead | None = None  # the gate's one read (guard `read`)
    fresh: dict[str, FieldChange] = field(default_factory=dict)  # not stale (guard `stale`)
    clobbered: set[str] = field(default_factory=set)  # edits our older write landed on
    pid: str | None = None  # the record's platform incident (guard `linked`)
    declared: bool = False  # the record declared that incident (`stages.gate.declare`)
    changes: dict[str, FieldChange] = field(default_factory=dict)  # news (guard `noop`)
    remember: Writes | None = None  # what a passed change teaches, once published

    @classmethod
    def of(cls, event: ChangeEvent, config: SyncConfig, store: StateStore) -> Screening:
        # An operator's sync, or the reconciler pushing a value onto a side that lags behind
        # (`syncmodel.drift`): re-read and pass on even what is already known.
        forced = event.origin is Origin.MANUAL or (
            event.origin is Origin.RECONCILER and event.kind is ChangeKind.REFRESH
        )
        side = config.side(event.integration_id)
        return cls(event, side, config.platform.id, store, forced=forced)

    @property
    def integration(self) -> IntegrationConfig:
        """The event's side (guard `known_side` let only a known one through)."""
        assert self.side is not None
        return self.side

    @property
    def is_platform(self) -> bool:
        return self.integration.id == self.platform_id

    @property
    def accepts(self) -> bool:
        """Whether the side's changes are taken in at all (its direction)."""
        return self.is_platform or self.integration.direction.accepts_inbound

    @property
    def known_read(self) -> GateRead:
        """The gate's one read (guard `read` made it)."""
        assert self.read is not None
        return self.read

    def remembering(
        self,
        fresh: Mapping[str, FieldChange],
        known: Mapping[str, str | None],
        ours: Collection[str] = (),
        settle: Collection[str] = (),
    ) -> Writes:
        """Queues the record's values as this event shows them (`known`: as they were known
        before); `settle`: fields whose write of ours this event is the echo of (no longer
        pending)."""
        store, event = self.store, self.event
        tenant, side, record = event.tenant, event.integration_id, event.external_id
        version = event.version
        values = {k: c.new for k, c in fresh.items()}
        # A value other than the one known is no longer the tool's form of ours.
        changed = [k for k, v in values.items() if normalize(v) != normalize(known.get(k))]

        def writes(pipe: Pipeline) -> None:
            store.q_remember_state(
                pipe, tenant, side, record, values, version, ours=ours, changed=changed
            )
            store.q_settle_pending(pipe, tenant, side, record, settle)

        return writes

    def dropped(self, reason: str, writes: Writes) -> GateResult:
        """Dropped, with what the gate learnt (written by `finish` with the dedupe mark, or
        by `commit`)."""
        return GateResult(None, reason, writes=writes, redis=self.store.redis)

    async def write(self, writes: Writes) -> None:
        async with self.store.pipeline() as pipe:
            writes(pipe)
            await pipe.execute()

    async def platform_incident(self) -> str | None:
        """The record's incident: its link, else the one the record names (e.g. ServiceNow
        u_incident_io_id), whose link is then adopted."""
        event, pid = self.event, self.known_read.incident
        if pid is None and event.platform_incident_id:
            pid = event.platform_incident_id
            await self.store.link(event.tenant, pid, event.integration_id, event.external_id)
        return pid

    async def incident_links(self, pid: str) -> tuple[dict[str, str], tuple[str, ...]]:
        """The incident's links and detached integrations (read already for the platform's
        own events)."""
        read = self.known_read
        if read.links is not None and read.detached is not None:
            return read.links, read.detached
        async with self.store.pipeline() as pipe:
            pipe.hgetall(keys.links(self.event.tenant, pid))
            pipe.hkeys(keys.detached(self.event.tenant, pid))
            raw_links, raw_detached = await pipe.execute()
        return parse_hash(raw_links), tuple(sorted(k.decode() for k in raw_detached))
