"""The gate: turns raw observations into real, linked changes, or drops them with a reason.

Its guards (`stages.gate.guards`, in the order of `guards.chain`) each judge one rule:
duplicate delivery, direction, a deleted record, a refresh's re-read, the gate's one read,
a comment by id, echoes by version, staleness, echoes by actor, the record's incident, no-op.
The first to decide the event decides it; an event every guard lets through is passed on to
the arbiter as a `LinkedEvent`, with what the gate learnt written once it is published.
"""

from __future__ import annotations

from dataclasses import replace

from redis.asyncio.client import Pipeline

from incident_sync.outbound.comments import Comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.gate.guards import Guard, chain
from incident_sync.outbound.stages.gate.read import GateReader
from incident_sync.outbound.stages.gate.record import recorded
from incident_sync.outbound.stages.gate.screening import GateResult, Screening
from incident_sync.syncmodel.events import ChangeEvent, LinkedEvent, Origin
from incident_sync.syncstate import links

__all__ = ["Gate", "GateResult"]


class Gate:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.comments = Comments(ctx)
        self.reader = GateReader(ctx.store.redis)
        self.guards: tuple[Guard, ...] = chain(ctx, self.reader, self.comments)

    async def process(self, event: ChangeEvent) -> GateResult:
        s = Screening.of(event, self.ctx.config, self.ctx.store)
        for guard in self.guards:
            decided = await guard(s)
            if decided is not None:
                return recorded(s, decided)
        return recorded(s, await self._passed(s))

    async def _passed(self, s: Screening) -> GateResult:
        """A change every guard let through, as the arbiter gets it."""
        event, read, pid = s.event, s.known_read, s.pid
        assert pid is not None and s.remember is not None
        state = {**read.known.fields, **{k: c.new for k, c in s.fresh.items()}}
        if event.origin is Origin.MANUAL and s.is_platform:
            # An operator's sync of the incident: recreate what was deleted (the reconciler's
            # forced refreshes do not: its `recreate` policy decides that on its own).
            await links.reattach(self.ctx.store.redis, event.tenant, pid)
            s.read = replace(read, detached=())
        incident_links, detached = await s.incident_links(pid)
        changes = s.changes
        linked = LinkedEvent(
            event=event.model_copy(update={"changes": changes}),
            platform_incident_id=pid,
            is_platform=s.is_platform,
            state=state,
            links=incident_links,
            detached=detached,
            clobbered=tuple(sorted(f for f in s.clobbered if f in changes)),
        )
        return GateResult(linked, "passed", writes=s.remember, redis=self.ctx.store.redis)

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
            self._q_recorded(pipe, event, result)
            self._q_mark_done(pipe, event)
            await pipe.execute()

    def _q_recorded(self, pipe: Pipeline, event: ChangeEvent, result: GateResult) -> None:
        """The decision on the incident's timeline (and the record's reference beside it)."""
        if result.incident is None or not result.entries:
            return
        timeline = self.ctx.timeline
        timeline.q_add(pipe, event.tenant, result.incident, *result.entries)
        if result.reference:
            timeline.q_reference(pipe, event.tenant, result.reference, result.incident)

    def _q_mark_done(self, pipe: Pipeline, event: ChangeEvent) -> None:
        self.ctx.store.q_mark_seen(
            pipe,
            event.tenant,
            f"delivery:{event.integration_id}",
            event.delivery_id,
            self.ctx.config.dedupe_ttl_s,
        )
