"""The gate: turns raw observations into real, linked changes, or drops them with a reason.

Layered guards, cheapest first: duplicate delivery, direction, our own actor, stale snapshot,
unlinked record, no-op (value already known), fingerprint of our own recent write. Comments
identified by the tool's id take their own path (`outbound.comments`), and so does a linked
record deleted in its tool (unlinked by the arbiter).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from outbound.comments import Comments
from outbound.context import Context
from syncmodel.comments import COMMENT, comment_changes, forced_changes
from syncmodel.config import IntegrationConfig
from syncmodel.echo import clobbered_fields, fresh_changes, real_changes
from syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    FieldChange,
    LinkedEvent,
    Origin,
)
from syncstate import links

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    linked: LinkedEvent | None
    reason: str  # "passed" or why it was dropped
    # What the gate learnt from a change it passed (the record's new known values), to be
    # remembered only once the change is durable downstream: remembered first, a crash
    # before the publish would make the redelivered change look like a no-op, and lose it.
    commit: Callable[[], Awaitable[None]] | None = None


class Gate:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.comments = Comments(ctx)

    async def process(self, event: ChangeEvent) -> GateResult:
        ctx, store = self.ctx, self.ctx.store
        side = ctx.config.side(event.integration_id)
        if side is None:
            return GateResult(None, "unknown_integration")
        if await store.seen(event.tenant, f"delivery:{side.id}", event.delivery_id):
            return GateResult(None, "duplicate")
        is_platform = side.id == ctx.config.platform.id
        if not is_platform and not side.direction.accepts_inbound:
            return GateResult(None, "direction")
        # An operator's sync, or the reconciler pushing a value onto a side that lags behind
        # (`syncmodel.drift`): re-read and pass on even what is already known.
        forced = event.origin is Origin.MANUAL or (
            event.origin is Origin.RECONCILER and event.kind is ChangeKind.REFRESH
        )
        if event.kind is ChangeKind.DELETED:
            return await self._deleted(event, is_platform)
        if event.kind is ChangeKind.REFRESH:
            event = await self._refresh(event)
        known_state = await store.known_state(event.tenant, side.id, event.external_id)
        known, versions = known_state.fields, known_state.versions
        # Consume the fingerprints of our own writes this event carries back, whichever
        # guard drops it: a leftover one would swallow a person's later edit to that value.
        # A tool that names the actor tells echoes apart exactly; fingerprints are for the
        # sides that do not (a person may well type a value we wrote a moment ago).
        names_actor = side.actor is not None and event.actor is not None
        echoed = set() if forced or names_actor else await self._echoed_fields(event)
        if event.comment is not None:
            return await self._comment(event, side, is_platform, known, echoed)
        if not forced and event.version is not None:
            ours = await store.our_write(event.tenant, side.id, event.external_id, event.version)
            if ours:
                # The snapshot our own write produced: what we wrote is its echo. Its other
                # fields may show a person's earlier edit, dated here only by our write: that
                # edit's own webhook (or the reconciler) brings it with its real time, so
                # those fields are neither taken nor remembered from this snapshot.
                own = fresh_changes(
                    {f: c for f, c in event.changes.items() if f in ours}, event.version, versions
                )
                await self._remember(event, own, ours=own)
                await store.settle_pending(event.tenant, side.id, event.external_id, own)
                others = {f: c for f, c in event.changes.items() if f not in ours}
                if event.origin is not Origin.RECONCILER or not others:
                    return GateResult(None, "echo_version")
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
            known_state.written_ts,
            known,
            known_state.replaced,
        )
        if clobbered and (side.actor is None or event.actor != side.actor):
            fresh = {**fresh, **{f: event.changes[f] for f in clobbered}}
        else:
            clobbered = set()
        if event.changes and not fresh:
            return GateResult(None, "stale")
        if side.actor is not None and event.actor == side.actor and not forced:
            # Our own write coming back. Still the record's true state: remember it.
            await self._remember(event, fresh, ours=fresh)
            await store.settle_pending(event.tenant, side.id, event.external_id, fresh)
            return GateResult(None, "echo_actor")
        pid = event.external_id if is_platform else await self._platform_incident(event)
        if pid is None:
            await self._remember(event, fresh)
            return GateResult(None, "unlinked")

        changes = forced_changes(fresh, known) if forced else real_changes(fresh, known)
        changes = {k: c for k, c in changes.items() if k not in echoed}
        # A clobbered edit is news even though the record shows our value again, and even
        # if a person happened to type a value we wrote earlier (the actor tells them apart).
        changes.update({f: fresh[f] for f in clobbered if f not in echoed})

        async def remember() -> None:
            await self._remember(event, fresh, ours=echoed)
            await store.settle_pending(event.tenant, side.id, event.external_id, echoed)

        resolving = event.resolves_conflict is not None
        if not changes and event.kind is not ChangeKind.CREATED and not resolving:
            await remember()
            return GateResult(None, "echo_or_noop")
        state = {**known, **{k: c.new for k, c in fresh.items()}}
        if event.origin is Origin.MANUAL and is_platform:
            # An operator's sync of the incident: recreate what was deleted (the reconciler's
            # forced refreshes do not: its `recreate` policy decides that on its own).
            await links.reattach(store.redis, event.tenant, pid)
        linked = LinkedEvent(
            event=event.model_copy(update={"changes": changes}),
            platform_incident_id=pid,
            is_platform=is_platform,
            state=state,
            links=await store.links_of(event.tenant, pid),
            detached=await links.detached(store.redis, event.tenant, pid),
            clobbered=tuple(sorted(f for f in clobbered if f in changes)),
        )
        return GateResult(linked, "passed", commit=remember)

    async def _comment(
        self,
        event: ChangeEvent,
        side: IntegrationConfig,
        is_platform: bool,
        known: Mapping[str, str | None],
        echoed: Collection[str],
    ) -> GateResult:
        """A comment added, edited or deleted, named by the tool's id. Each entry stands on
        its own: no staleness or no-op between entries; echoes by actor, then by id."""
        store = self.ctx.store
        assert event.comment is not None
        entry = comment_changes(event)
        added = event.comment.action is CommentAction.ADDED
        if side.actor is not None and event.actor == side.actor:
            if added:
                await self._remember(event, entry, ours=entry)
            await store.settle_pending(event.tenant, side.id, event.external_id, {COMMENT})
            return GateResult(None, "echo_actor")
        pid = event.external_id if is_platform else await self._platform_incident(event)
        if pid is None:
            return GateResult(None, "unlinked")
        reason = await self.comments.screen(event, pid, echoed)
        if reason is not None:
            return GateResult(None, reason)

        async def remember() -> None:  # once published, as for fields
            if added:
                await self._remember(event, entry)

        linked = LinkedEvent(
            event=event.model_copy(update={"changes": entry}),
            platform_incident_id=pid,
            is_platform=is_platform,
            state={**known, **({COMMENT: entry[COMMENT].new} if added else {})},
            links=await store.links_of(event.tenant, pid),
        )
        return GateResult(linked, "passed", commit=remember)

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
        await self.ctx.store.mark_seen(
            event.tenant,
            f"delivery:{event.integration_id}",
            event.delivery_id,
            self.ctx.config.dedupe_ttl_s,
        )

    async def _echoed_fields(self, event: ChangeEvent) -> set[str]:
        return {
            name
            for name, change in event.changes.items()
            if await self.ctx.store.consume_echo(
                event.tenant, event.integration_id, event.external_id, name, change.new
            )
        }

    async def _platform_incident(self, event: ChangeEvent) -> str | None:
        store = self.ctx.store
        pid = await store.platform_incident_for(
            event.tenant, event.integration_id, event.external_id
        )
        if pid is None and event.platform_incident_id:
            # The record names its incident (e.g. ServiceNow u_incident_io_id): adopt the link.
            pid = event.platform_incident_id
            await store.link(event.tenant, pid, event.integration_id, event.external_id)
        return pid

    async def _remember(
        self, event: ChangeEvent, fresh: Mapping[str, FieldChange], ours: Collection[str] = ()
    ) -> None:
        await self.ctx.store.remember_state(
            event.tenant,
            event.integration_id,
            event.external_id,
            {k: c.new for k, c in fresh.items()},
            event.version,
            ours=ours,
        )

    async def _refresh(self, event: ChangeEvent) -> ChangeEvent:
        """Re-read the record and present its current values as the change."""
        record = await self.ctx.connector(event.integration_id).fetch(event.external_id)
        fields = record.fields
        if event.only_fields:
            mapping = self.ctx.mappings[event.integration_id]
            wanted = {mapping.canonical_of(n) or n for n in event.only_fields}
            fields = {k: v for k, v in fields.items() if k in wanted}
        return event.model_copy(
            update={
                "kind": ChangeKind.UPDATED,
                "changes": {k: FieldChange(new=v) for k, v in fields.items()},
                "version": record.version,
                "reference": record.reference,
                "platform_incident_id": record.platform_incident_id,
            }
        )
