"""The gate: turns raw observations into real, linked changes, or drops them with a reason.

Layered guards, cheapest first: duplicate delivery, direction, our own actor, stale snapshot,
unlinked record, no-op (value already known), fingerprint of our own recent write. Comments
identified by the tool's id take their own path (`outbound.comments`), and so does a linked
record deleted in its tool (unlinked by the arbiter).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.connectors.base import RecordNotFound
from incident_sync.outbound.comments import Comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.recordstate import shows_ours
from incident_sync.outbound.stages.gate.read import GateRead, GateReader
from incident_sync.outbound.state import parse_hash
from incident_sync.syncmodel.comments import COMMENT, comment_changes, forced_changes
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.echo import clobbered_fields, fresh_changes, normalize, real_changes
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    FieldChange,
    LinkedEvent,
    Origin,
)
from incident_sync.syncstate import keys, links

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    linked: LinkedEvent | None
    reason: str  # "passed" or why it was dropped
    # What the gate learnt (the record's values as the event shows them), queued on a
    # pipeline: `Gate.finish` sends it with the delivery's dedupe mark. For a change it
    # passed, only once the change is durable downstream: remembered first, a crash before
    # the publish would make the redelivered change look like a no-op, and lose it.
    writes: Callable[[Pipeline], None] | None = None
    redis: Redis | None = None

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


class Gate:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.comments = Comments(ctx)
        self.reader = GateReader(ctx.store.redis)

    async def process(self, event: ChangeEvent) -> GateResult:
        ctx, store = self.ctx, self.ctx.store
        side = ctx.config.side(event.integration_id)
        if side is None:
            return GateResult(None, "unknown_integration")
        is_platform = side.id == ctx.config.platform.id
        # An operator's sync, or the reconciler pushing a value onto a side that lags behind
        # (`syncmodel.drift`): re-read and pass on even what is already known.
        forced = event.origin is Origin.MANUAL or (
            event.origin is Origin.RECONCILER and event.kind is ChangeKind.REFRESH
        )
        inbound = is_platform or side.direction.accepts_inbound
        if not inbound or event.kind in (ChangeKind.DELETED, ChangeKind.REFRESH):
            if await store.seen(event.tenant, f"delivery:{side.id}", event.delivery_id):
                return GateResult(None, "duplicate")
            if not inbound:
                return GateResult(None, "direction")
            if event.kind is ChangeKind.DELETED:
                return await self._deleted(event, is_platform)
            try:
                event = await self._refresh(event)
            except RecordNotFound:
                # A record gone (or never there) is an answer, not a bug: nothing to pass on.
                log.warning(
                    "refresh of a record its tool does not have: dropped",
                    extra={
                        "integration": side.id,
                        "external_id": event.external_id,
                        "origin": event.origin.value,
                    },
                )
                return GateResult(None, "record_not_found")
        read = await self._read(event, side, is_platform, forced)
        if read.duplicate:
            return GateResult(None, "duplicate")
        known, versions = read.known.fields, read.known.versions
        echoed = read.echoed
        if event.comment is not None:
            return await self._comment(event, side, is_platform, read)
        if not forced and event.version is not None:
            ours = read.ours
            if ours:
                # The snapshot our own write produced: what we wrote is its echo. Its other
                # fields may show a person's earlier edit, dated here only by our write: that
                # edit's own webhook (or the reconciler) brings it with its real time, so
                # those fields are neither taken nor remembered from this snapshot.
                own = fresh_changes(
                    {f: c for f, c in event.changes.items() if f in ours}, event.version, versions
                )
                seen_own = self._remembering(event, own, known, ours=own, settle=own)
                others = {f: c for f, c in event.changes.items() if f not in ours}
                if event.origin is not Origin.RECONCILER or not others:
                    return self._dropped("echo_version", seen_own)
                await self._write(seen_own)
                # Read by the reconciler because an edit's own webhook was lost: the other
                # fields are the only word of that edit there will be (dated by our write).
                event = event.model_copy(update={"changes": others})
        fresh = fresh_changes(event.changes, event.version, versions)
        # An edit our write of an older value landed on: stale by version, newer by clock.
        clobbered = clobbered_fields(
            event.changes,
            event.version,
            versions,
            event.source_ts,
            read.known.written_ts,
            known,
            read.known.replaced,
            read.known.person,
        )
        if clobbered and (side.actor is None or event.actor != side.actor):
            fresh = {**fresh, **{f: event.changes[f] for f in clobbered}}
        else:
            clobbered = set()
        if event.changes and not fresh:
            return GateResult(None, "stale")
        if side.actor is not None and event.actor == side.actor and not forced:
            # Our own write coming back. Still the record's true state: remember it.
            seen = self._remembering(event, fresh, known, ours=fresh, settle=fresh)
            return self._dropped("echo_actor", seen)
        pid = event.external_id if is_platform else await self._platform_incident(event, read)
        if pid is None:
            return self._dropped("unlinked", self._remembering(event, fresh, known))

        changes = forced_changes(fresh, known) if forced else real_changes(fresh, known)
        # The record's own form of a value we wrote there (cut, rewritten, a default) is that
        # value, not news: a forced re-read must not carry it back over the original.
        changes = {
            k: c
            for k, c in changes.items()
            if k not in echoed and not shows_ours(read.known, k, c.new)
        }
        # A clobbered edit is news even though the record shows our value again, and even
        # if a person happened to type a value we wrote earlier (the actor tells them apart).
        changes.update({f: fresh[f] for f in clobbered if f not in echoed})

        remember = self._remembering(event, fresh, known, ours=echoed, settle=echoed)
        resolving = event.resolves_conflict is not None
        if not changes and event.kind is not ChangeKind.CREATED and not resolving:
            return self._dropped("echo_or_noop", remember)
        state = {**known, **{k: c.new for k, c in fresh.items()}}
        if event.origin is Origin.MANUAL and is_platform:
            # An operator's sync of the incident: recreate what was deleted (the reconciler's
            # forced refreshes do not: its `recreate` policy decides that on its own).
            await links.reattach(store.redis, event.tenant, pid)
            read = replace(read, detached=())
        incident_links, detached = await self._links(event.tenant, pid, read)
        linked = LinkedEvent(
            event=event.model_copy(update={"changes": changes}),
            platform_incident_id=pid,
            is_platform=is_platform,
            state=state,
            links=incident_links,
            detached=detached,
            clobbered=tuple(sorted(f for f in clobbered if f in changes)),
        )
        return GateResult(linked, "passed", writes=remember, redis=store.redis)

    async def _read(
        self,
        event: ChangeEvent,
        side: IntegrationConfig,
        is_platform: bool,
        forced: bool,
    ) -> GateRead:
        # Consume the fingerprints of our own writes this event carries back, whichever
        # guard drops it: a leftover one would swallow a person's later edit to that value.
        # A tool that names the actor tells echoes apart exactly; fingerprints are for the
        # sides that do not (a person may well type a value we wrote a moment ago). What the
        # reconciler read of such a tool names no actor, but the echoes of our writes there
        # came (or come) by actor: their fingerprints, never consumed, must not swallow a
        # person's value the reconciler found.
        names_actor = side.actor is not None and (
            event.actor is not None or event.origin is Origin.RECONCILER
        )
        consume = (
            {}
            if forced or names_actor
            else {name: change.new for name, change in event.changes.items()}
        )
        return await self.reader.read(
            event.tenant,
            side.id,
            event.external_id,
            delivery_id=event.delivery_id,
            consume=consume,
            version=event.version,
            incident_of_record=not is_platform,
            incident=event.external_id if is_platform else None,
        )

    async def _links(
        self, tenant: str, pid: str, read: GateRead
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """The incident's links and detached integrations (read already for the platform's
        own events)."""
        if read.links is not None and read.detached is not None:
            return read.links, read.detached
        async with self.ctx.store.pipeline() as pipe:
            pipe.hgetall(keys.links(tenant, pid))
            pipe.hkeys(keys.detached(tenant, pid))
            raw_links, raw_detached = await pipe.execute()
        return parse_hash(raw_links), tuple(sorted(k.decode() for k in raw_detached))

    async def _comment(
        self, event: ChangeEvent, side: IntegrationConfig, is_platform: bool, read: GateRead
    ) -> GateResult:
        """A comment added, edited or deleted, named by the tool's id. Each entry stands on
        its own: no staleness or no-op between entries; echoes by actor, then by id."""
        store = self.ctx.store
        assert event.comment is not None
        entry = comment_changes(event)
        added = event.comment.action is CommentAction.ADDED
        if side.actor is not None and event.actor == side.actor:
            entries, known = (entry if added else {}), read.known.fields
            seen = self._remembering(event, entries, known, ours=entry, settle={COMMENT})
            return self._dropped("echo_actor", seen)
        pid = event.external_id if is_platform else await self._platform_incident(event, read)
        if pid is None:
            return GateResult(None, "unlinked")
        reason = await self.comments.screen(event, pid, read.echoed)
        if reason is not None:
            return GateResult(None, reason)

        remember = self._remembering(  # once published
            event, entry if added else {}, read.known.fields
        )

        incident_links, _ = await self._links(event.tenant, pid, read)
        linked = LinkedEvent(
            event=event.model_copy(update={"changes": entry}),
            platform_incident_id=pid,
            is_platform=is_platform,
            state={**read.known.fields, **({COMMENT: entry[COMMENT].new} if added else {})},
            links=incident_links,
        )
        return GateResult(linked, "passed", writes=remember, redis=store.redis)

    async def _deleted(self, event: ChangeEvent, is_platform: bool) -> GateResult:
        """A record deleted in its tool: passed on (the arbiter unlinks it and notes it on the
        incident) if it is linked; a record never linked was never synced."""
        if is_platform:
            return GateResult(None, "ignored")
        store = self.ctx.store
        pid = await store.platform_incident_for(
            event.tenant, event.integration_id, event.external_id
        )
        if pid is None:
            return GateResult(None, "unlinked")
        linked = LinkedEvent(
            event=event,
            platform_incident_id=pid,
            is_platform=False,
            links=await store.links_of(event.tenant, pid),
        )
        return GateResult(linked, "passed")

    async def mark_done(self, event: ChangeEvent) -> None:
        async with self.ctx.store.pipeline() as pipe:
            self._q_mark_done(pipe, event)
            await pipe.execute()

    async def finish(self, event: ChangeEvent, result: GateResult) -> None:
        """Once the passed change is durable downstream: what the gate learnt, then the
        delivery's dedupe mark, in one round trip (in this order)."""
        async with self.ctx.store.pipeline() as pipe:
            if result.writes is not None:
                result.writes(pipe)
            self._q_mark_done(pipe, event)
            await pipe.execute()

    def _q_mark_done(self, pipe: Pipeline, event: ChangeEvent) -> None:
        self.ctx.store.q_mark_seen(
            pipe,
            event.tenant,
            f"delivery:{event.integration_id}",
            event.delivery_id,
            self.ctx.config.dedupe_ttl_s,
        )

    async def _platform_incident(self, event: ChangeEvent, read: GateRead) -> str | None:
        pid = read.incident
        if pid is None and event.platform_incident_id:
            # The record names its incident (e.g. ServiceNow u_incident_io_id): adopt the link.
            pid = event.platform_incident_id
            await self.ctx.store.link(event.tenant, pid, event.integration_id, event.external_id)
        return pid

    def _remembering(
        self,
        event: ChangeEvent,
        fresh: Mapping[str, FieldChange],
        known: Mapping[str, str | None],
        ours: Collection[str] = (),
        settle: Collection[str] = (),
    ) -> Callable[[Pipeline], None]:
        """Queues the record's values as this event shows them (`known`: as they were known
        before); `settle`: fields whose write of ours this event is the echo of (no longer
        pending)."""
        store = self.ctx.store
        tenant, side, record = event.tenant, event.integration_id, event.external_id
        values = {k: c.new for k, c in fresh.items()}
        # A value other than the one known is no longer the tool's form of ours.
        changed = [k for k, v in values.items() if normalize(v) != normalize(known.get(k))]

        def writes(pipe: Pipeline) -> None:
            store.q_remember_state(
                pipe, tenant, side, record, values, event.version, ours=ours, changed=changed
            )
            store.q_settle_pending(pipe, tenant, side, record, settle)

        return writes

    def _dropped(self, reason: str, writes: Callable[[Pipeline], None]) -> GateResult:
        """Dropped, with what the gate learnt (written by `finish` with the dedupe mark, or
        by `commit`)."""
        return GateResult(None, reason, writes=writes, redis=self.ctx.store.redis)

    async def _write(self, writes: Callable[[Pipeline], None]) -> None:
        async with self.ctx.store.pipeline() as pipe:
            writes(pipe)
            await pipe.execute()

    async def _refresh(self, event: ChangeEvent) -> ChangeEvent:
        """Re-read the record and present its current values as the change."""
        record = await self.ctx.connector(event.integration_id).fetch(event.external_id)
        fields = record.fields
        if event.only_fields:
            mapping = self.ctx.mappings[event.integration_id]
            wanted = {mapping.canonical_of(n) or n for n in event.only_fields}
            fields = {k: v for k, v in fields.items() if k in wanted}
        if event.origin is Origin.RECONCILER and event.changes:
            # A push of the values a reconcile compared: a field that changed since is on its
            # way with its own change (and time); pushing it now would date it by the old one.
            decided = event.changes
            fields = {
                k: v
                for k, v in fields.items()
                if k in decided and normalize(v) == normalize(decided[k].new)
            }
        return event.model_copy(
            update={
                "kind": ChangeKind.UPDATED,
                "changes": {k: FieldChange(new=v) for k, v in fields.items()},
                "version": record.version,
                "reference": record.reference,
                "platform_incident_id": record.platform_incident_id,
            }
        )
