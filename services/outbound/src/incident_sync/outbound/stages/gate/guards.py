"""The gate's guards, one rule each, run in the order of `chain` (`ORDER` names it).

Every guard has one interface: it takes the event's `Screening` (the event and what the guards
before it found out) and answers `None` to let the event on to the next guard, or a
`GateResult`: dropped with its rule's reason (a decision label of
`incident_sync_gate_events_total`), or passed on a path of its own (a comment by id, a deleted
record). A guard may add to the screening what the guards after it need. An event every guard
lets through is passed on as a change (`Gate.process`).

The order, cheapest and most certain first:
1. `known_side`: an integration the config does not have -> `unknown_integration`;
2. `duplicate`: the delivery's dedupe mark, looked up on its own for an event the gate does not
   read at once (one its direction drops, a delete, a refresh, which costs a request to the
   tool); every other event's mark comes with the gate's one read (`read`) -> `duplicate`;
3. `direction`: a side whose changes are not taken in (`outbound`) -> `direction`;
4. `deleted`: a record deleted in its tool takes its own path -> `ignored` (the platform's),
   `unlinked`, or passed (the arbiter unlinks it);
5. `reread`: a refresh re-reads the record; its values are the change -> `record_not_found`;
6. `read`: the gate's one round trip (`stages.gate.read`: the dedupe mark, the echo
   fingerprints the values consume whatever guard drops the event, the record's known state,
   the fields our write set at this version, the links) -> `duplicate`;
7. `comment`: a comment by the tool's id takes its own path (`outbound.comments`) ->
   `echo_actor`, `unlinked`, `echo_comment`, `duplicate_comment`, or passed;
8. `echo_version`: the snapshot our own write produced -> `echo_version` (what the reconciler
   read goes on with the other fields);
9. `stale`: every field older than the version known (unless an edit our older write landed
   on) -> `stale`;
10. `echo_actor`: our own integration user made the change -> `echo_actor`;
11. `linked`: the record's platform incident (adopting the one it names, else declaring one
    under its integration's declare rule) -> `unlinked`;
12. `noop`: nothing the record did not show already, nor our own value in the tool's form
    -> `echo_or_noop`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from incident_sync.connectors.base import RecordNotFound
from incident_sync.outbound.comments import Comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.recordstate import ROW_KEPT, shows_ours
from incident_sync.outbound.stages.gate.declare import Declarer
from incident_sync.outbound.stages.gate.read import GateReader
from incident_sync.outbound.stages.gate.screening import GateResult, Screening
from incident_sync.syncmodel.comments import COMMENT, comment_changes, forced_changes
from incident_sync.syncmodel.echo import clobbered_fields, fresh_changes, normalize, real_changes
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    FieldChange,
    LinkedEvent,
    Origin,
)

log = logging.getLogger(__name__)


class Guard(Protocol):
    """One rule of the gate: `None` lets the event on, a `GateResult` decides it."""

    name: str

    def __call__(self, s: Screening) -> Awaitable[GateResult | None]: ...


class KnownSide:
    name = "known_side"

    async def __call__(self, s: Screening) -> GateResult | None:
        return None if s.side is not None else GateResult(None, "unknown_integration")


class Duplicate:
    name = "duplicate"

    async def __call__(self, s: Screening) -> GateResult | None:
        event, side = s.event, s.integration
        if s.accepts and event.kind not in (ChangeKind.DELETED, ChangeKind.REFRESH):
            return None  # the gate's one read answers it (`Read`)
        if await s.store.seen(event.tenant, f"delivery:{side.id}", event.delivery_id):
            return GateResult(None, "duplicate")
        return None


class Direction:
    name = "direction"

    async def __call__(self, s: Screening) -> GateResult | None:
        return None if s.accepts else GateResult(None, "direction")


class Deleted:
    """A record deleted in its tool: passed on (the arbiter unlinks it and notes it on the
    incident) if it is linked; a record never linked was never synced."""

    name = "deleted"

    async def __call__(self, s: Screening) -> GateResult | None:
        event = s.event
        if event.kind is not ChangeKind.DELETED:
            return None
        if s.is_platform:
            return GateResult(None, "ignored")
        store = s.store
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


class Reread:
    """A refresh: re-read the record and present its current values as the change."""

    name = "reread"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def __call__(self, s: Screening) -> GateResult | None:
        if s.event.kind is not ChangeKind.REFRESH:
            return None
        try:
            s.event = await self.refresh(s.event)
        except RecordNotFound:
            # A record gone (or never there) is an answer, not a bug: nothing to pass on.
            log.warning(
                "refresh of a record its tool does not have: dropped",
                extra={
                    "integration": s.integration.id,
                    "external_id": s.event.external_id,
                    "origin": s.event.origin.value,
                },
            )
            return GateResult(None, "record_not_found")
        return None

    async def refresh(self, event: ChangeEvent) -> ChangeEvent:
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


class Read:
    """The gate's one read (`stages.gate.read`); a delivery already handled stops here."""

    name = "read"

    def __init__(self, reader: GateReader) -> None:
        self.reader = reader

    async def __call__(self, s: Screening) -> GateResult | None:
        event, side = s.event, s.integration
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
            if s.forced or names_actor
            else {name: change.new for name, change in event.changes.items()}
        )
        s.read = await self.reader.read(
            event.tenant,
            side.id,
            event.external_id,
            delivery_id=event.delivery_id,
            consume=consume,
            version=event.version,
            incident_of_record=not s.is_platform,
            incident=event.external_id if s.is_platform else None,
        )
        return GateResult(None, "duplicate") if s.read.duplicate else None


class CommentById:
    """A comment added, edited or deleted, named by the tool's id. Each entry stands on its
    own: no staleness or no-op between entries; echoes by actor, then by id."""

    name = "comment"

    def __init__(self, comments: Comments) -> None:
        self.comments = comments

    async def __call__(self, s: Screening) -> GateResult | None:
        event, side, read = s.event, s.integration, s.known_read
        if event.comment is None:
            return None
        entry = comment_changes(event)
        added = event.comment.action is CommentAction.ADDED
        if side.actor is not None and event.actor == side.actor:
            entries, known = (entry if added else {}), read.known.fields
            seen = s.remembering(entries, known, ours=entry, settle={COMMENT})
            return s.dropped("echo_actor", seen)
        pid = event.external_id if s.is_platform else await s.platform_incident()
        if pid is None:
            return GateResult(None, "unlinked")
        reason = await self.comments.screen(event, pid, read.echoed)
        if reason is not None:
            return GateResult(None, reason)

        remember = s.remembering(entry if added else {}, read.known.fields)  # once published

        incident_links, _ = await s.incident_links(pid)
        linked = LinkedEvent(
            event=event.model_copy(update={"changes": entry}),
            platform_incident_id=pid,
            is_platform=s.is_platform,
            state={**read.known.fields, **({COMMENT: entry[COMMENT].new} if added else {})},
            links=incident_links,
        )
        return GateResult(linked, "passed", writes=remember, redis=s.store.redis)


class EchoVersion:
    """The snapshot our own write produced: what we wrote is its echo. Its other fields may
    show a person's earlier edit, dated here only by our write: that edit's own webhook (or
    the reconciler) brings it with its real time, so those fields are neither taken nor
    remembered from this snapshot."""

    name = "echo_version"

    async def __call__(self, s: Screening) -> GateResult | None:
        event, read = s.event, s.known_read
        ours = read.ours
        if s.forced or event.version is None or not ours:
            return None
        known, versions = read.known.fields, read.known.versions
        own = fresh_changes(
            {f: c for f, c in event.changes.items() if f in ours}, event.version, versions
        )
        seen_own = s.remembering(own, known, ours=own, settle=own)
        others = {f: c for f, c in event.changes.items() if f not in ours}
        if event.origin is not Origin.RECONCILER or not others:
            return s.dropped("echo_version", seen_own)
        await s.write(seen_own)
        # Read by the reconciler because an edit's own webhook was lost: the other fields
        # are the only word of that edit there will be (dated by our write).
        s.event = event.model_copy(update={"changes": others})
        return None


class Stale:
    """Fields no older than the version known go on (`Screening.fresh`); an edit our write of
    an older value landed on (stale by version, newer by clock) is fresh too."""

    name = "stale"

    async def __call__(self, s: Screening) -> GateResult | None:
        event, side, known = s.event, s.integration, s.known_read.known
        fresh = fresh_changes(event.changes, event.version, known.versions)
        clobbered = clobbered_fields(
            event.changes,
            event.version,
            known.versions,
            event.source_ts,
            known.written_ts,
            known.fields,
            known.replaced,
            known.person,
            known.rows,
            ROW_KEPT,
        )
        if clobbered and (side.actor is None or event.actor != side.actor):
            fresh = {**fresh, **{f: event.changes[f] for f in clobbered}}
        else:
            clobbered = set()
        s.fresh, s.clobbered = fresh, clobbered
        if event.changes and not fresh:
            return GateResult(None, "stale")
        return None


class EchoActor:
    """Our own write coming back, named by the tool's actor. Still the record's true state:
    remembered."""

    name = "echo_actor"

    async def __call__(self, s: Screening) -> GateResult | None:
        side = s.integration
        if side.actor is None or s.event.actor != side.actor or s.forced:
            return None
        known = s.known_read.known.fields
        return s.dropped("echo_actor", s.remembering(s.fresh, known, ours=s.fresh, settle=s.fresh))


class Linked:
    """The record's platform incident (`Screening.pid`): the platform's own record is one; a
    tool's record its link, else the incident it names (the link adopted), else the one it
    declares under its integration's declare rule (`stages.gate.declare`)."""

    name = "linked"

    def __init__(self, declarer: Declarer | None = None) -> None:
        self.declarer = declarer  # None: no declare rules (the guard's own tests)

    async def __call__(self, s: Screening) -> GateResult | None:
        pid = s.event.external_id if s.is_platform else await s.platform_incident()
        if pid is None and self.declarer is not None:
            pid = await self.declarer.declare(s)
        if pid is None:
            return s.dropped("unlinked", s.remembering(s.fresh, s.known_read.known.fields))
        s.pid = pid
        return None


class NoOp:
    """What is news (`Screening.changes`): a value the record did not show already (every
    value for a forced re-read), not the echo of our write, nor our value in the tool's own
    form. A clobbered edit is news whatever the record shows."""

    name = "noop"

    async def __call__(self, s: Screening) -> GateResult | None:
        event, read, fresh = s.event, s.known_read, s.fresh
        known, echoed = read.known.fields, read.echoed
        changes = forced_changes(fresh, known) if s.forced else real_changes(fresh, known)
        # The record's own form of a value we wrote there (cut, rewritten, a default) is that
        # value, not news: a forced re-read must not carry it back over the original.
        changes = {
            k: c
            for k, c in changes.items()
            if k not in echoed and not shows_ours(read.known, k, c.new)
        }
        # A clobbered edit is news even though the record shows our value again, and even
        # if a person happened to type a value we wrote earlier (the actor tells them apart).
        changes.update({f: fresh[f] for f in s.clobbered if f not in echoed})
        changes.update({f: c for f, c in set_back(s).items() if f not in echoed})
        remember = s.remembering(fresh, known, ours=echoed, settle=echoed)
        resolving = event.resolves_conflict is not None
        if not changes and event.kind is not ChangeKind.CREATED and not resolving:
            return s.dropped("echo_or_noop", remember)
        s.changes, s.remember = changes, remember
        return None


def set_back(s: Screening) -> dict[str, FieldChange]:
    """A person's edits back to the value the record showed as we know it, made after an
    edit of theirs we have not seen yet (its delivery is late): the change's old value is not
    the one we know. Nothing to write, but an edit, dated now: by last-write-wins it beats an
    older edit on another side still on its way. Only a person's (the tool names its actor and
    it is not ours): our own write's echo has the same shape. And only one newer than what
    the field's value was last seen at: a late copy of the edit that made it has its shape too.
    """
    actor, version = s.integration.actor, s.event.version
    if actor is None or s.event.actor is None or s.event.actor == actor or version is None:
        return {}
    known, versions = s.known_read.known.fields, s.known_read.known.versions
    return {
        f: c
        for f, c in s.fresh.items()
        if c.old is not None
        and (seen := versions.get(f)) is not None
        and version > seen
        and normalize(c.new) == normalize(known.get(f))
        and normalize(c.old) != normalize(known.get(f))
    }


def chain(ctx: Context, reader: GateReader, comments: Comments) -> tuple[Guard, ...]:
    """The gate's guards in the order they run."""
    return (
        KnownSide(),
        Duplicate(),
        Direction(),
        Deleted(),
        Reread(ctx),
        Read(reader),
        CommentById(comments),
        EchoVersion(),
        Stale(),
        EchoActor(),
        Linked(Declarer(ctx)),
        NoOp(),
    )


# The documented order (the module's docstring, docs/architecture.md).
ORDER = (
    "known_side",
    "duplicate",
    "direction",
    "deleted",
    "reread",
    "read",
    "comment",
    "echo_version",
    "stale",
    "echo_actor",
    "linked",
    "noop",
)
