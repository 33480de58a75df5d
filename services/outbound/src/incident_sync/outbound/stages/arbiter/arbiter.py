"""The arbiter: turns a gated change into writes, settling conflicts on the way.

Per changed field it asks the pure conflict rules (`syncmodel.conflicts`) against the last
change it let through for that incident field (kept in Redis), records every conflict, parks
fields under manual review, and then plans the writes (`syncmodel.routing`). Everything about
one incident reaches one arbiter in order (`sync.changes` is keyed by incident), so the
read-decide-write on an incident's fields needs no lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from incident_sync.outbound.context import Context
from incident_sync.outbound.metrics import CONFLICTS_DETECTED, CONFLICTS_RESOLVED
from incident_sync.outbound.stages.arbiter import record as recording
from incident_sync.outbound.stages.arbiter.unlink import unlink_deleted
from incident_sync.outbound.state import parse_field_writes, parse_hash
from incident_sync.outbound.stats import count_operator_resolution, q_count_conflict
from incident_sync.syncmodel.comments import by_comment_id
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.conflicts import (
    NOT_ARBITRATED,
    Arbitration,
    FieldWrite,
    Verdict,
    arbitrate,
)
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, DeliveryCommand, LinkedEvent
from incident_sync.syncmodel.fields import ConflictStrategy, Owner
from incident_sync.syncmodel.routing import contributed, plan_deliveries, restore_source
from incident_sync.syncstate.conflicts import (
    ConflictRecord,
    ConflictStatus,
    ConflictStore,
    Resolution,
    SideValue,
)
from incident_sync.syncstate.timeline import Entry

log = logging.getLogger(__name__)


@dataclass
class ArbiterResult:
    commands: list[DeliveryCommand]
    conflicts: list[ConflictRecord] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    # For the incident's timeline: what the source contributed, an operator's settled
    # conflict, and whether a deleted record was unlinked.
    offered: dict[str, str | None] = field(default_factory=dict)
    settled: ConflictRecord | None = None
    unlinked: bool = False
    # Written already (with the arbiter's own round trip), but for `later`: entries known
    # only after it (the put-backs planned from its answer), for the agent to write.
    recorded: bool = False
    later: list[Entry] = field(default_factory=list)


class Arbiter:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.conflicts = ConflictStore(ctx.store.redis)

    async def process(self, linked: LinkedEvent) -> ArbiterResult:
        ctx, store = self.ctx, self.ctx.store
        event, pid, tenant = linked.event, linked.platform_incident_id, linked.event.tenant
        source = event.integration_id
        offered = contributed(linked, ctx.config, ctx.mappings)
        if event.resolves_conflict is not None:
            return await self._settle(linked, offered)
        if event.kind is ChangeKind.DELETED:
            return ArbiterResult(commands=await unlink_deleted(ctx, linked), unlinked=True)

        arbitrated = [f for f in offered if f not in NOT_ARBITRATED]
        last, parked = await self._read(tenant, pid, arbitrated)
        accepted: dict[str, str | None] = {f: v for f, v in offered.items() if f in NOT_ARBITRATED}
        reassert: dict[str, FieldWrite] = {}
        winners: dict[str, FieldWrite] = {}
        restore: dict[str, str | None] = {}
        result = ArbiterResult(commands=[], offered=offered)
        for name in arbitrated:
            new = FieldWrite(source, offered[name], event.source_ts)
            previous = last.get(name)
            settings = self._settings_for(source, previous)

            def priority(side: str, f: str = name, s: IntegrationConfig = settings) -> int:
                return self._priority(side, f, s)

            verdict = arbitrate(
                previous,
                new,
                strategy=settings.conflict_strategy,
                window_s=settings.conflict_window_s,
                priority=priority,
                parked=name in parked,
                platform=ctx.config.platform.id,
                # What the editor replaced, unless our own write has since landed on the
                # record (a clobber: the edit was simultaneous with ours, not after it).
                based_on=None if name in linked.clobbered else self._replaced(event, name),
            )
            if verdict.conflict and previous is not None:
                record = await self._record(linked, name, previous, new, verdict, settings)
                result.conflicts.append(record)
            if verdict.verdict is Verdict.ACCEPT:
                accepted[name] = new.value
                winners[name] = new
            elif verdict.verdict is Verdict.REJECT and verdict.winner is not None:
                reassert[name] = verdict.winner
            else:
                result.parked.append(name)
                if name in linked.clobbered:
                    # Our write of the other side's value landed on this edit: put it back,
                    # so each side shows its own people's value while the field is parked.
                    restore[name] = new.value
                if name in parked:
                    await self._update_pending(tenant, parked[name], new)
        result.commands = plan_deliveries(
            linked, ctx.config, ctx.mappings, accepted=accepted, reassert=reassert
        )
        # The decisions on the incident's timeline ride this round trip (before the commands
        # are published: a redelivered change may record them twice, never lose them).
        recorded = recording.entries(ctx, linked, result)
        # Our write of another value to the source record may be on its way (planned before
        # this change won): it would land on top of the winner. Checked after the winners are
        # stored (in that order, one round trip), while delivery checks the winners after
        # marking its write pending, so one of the two always sees the other.
        async with store.pipeline() as pipe:
            store.q_set_field_writes(pipe, tenant, pid, winners)
            ctx.timeline.q_add(pipe, tenant, pid, *recorded)
            store.q_pending_writes(pipe, tenant, source, event.external_id)
            pending = parse_hash((await pipe.execute())[-1])
        result.recorded = True
        kept = {n: w.value for n, w in winners.items()}
        kept.update({n: offered[n] for n in result.parked})  # each side keeps its own value
        for name, value in kept.items():
            if name not in pending or normalize(pending[name]) == normalize(value):
                continue
            # Made on top of our pending value: our write landed first, nothing to put back.
            if normalize(self._replaced(event, name)) != normalize(pending[name]):
                restore[name] = value
        restore.update({f: v for f, v in accepted.items() if f in linked.clobbered})
        restore = {f: v for f, v in restore.items() if f not in reassert}
        restored = restore_source(linked, ctx.config, ctx.mappings, restore)
        result.commands += restored
        result.later = recording.restored(linked, restored)
        result.commands = by_comment_id(result.commands, linked)  # comments mapped id <-> id
        return result

    async def _read(
        self, tenant: str, pid: str, arbitrated: list[str]
    ) -> tuple[dict[str, FieldWrite], dict[str, str]]:
        """The standing change of each field, and the parked fields: one round trip."""
        store = self.ctx.store
        async with store.pipeline() as pipe:
            store.q_field_writes(pipe, tenant, pid, arbitrated)
            store.q_parked(pipe, tenant, pid)
            answers = await pipe.execute()
        last = parse_field_writes(arbitrated, answers[0]) if arbitrated else {}
        return last, parse_hash(answers[-1])

    @staticmethod
    def _replaced(event: ChangeEvent, name: str) -> str | None:
        change = event.changes.get(name)
        return change.old if change is not None else None

    # -- settings and priorities -----------------------------------------------------------
    def _settings_for(self, source: str, previous: FieldWrite | None) -> IntegrationConfig:
        """The integration whose conflict settings apply: the tool involved (between two
        tools, the one whose change arrives now)."""
        config = self.ctx.config
        if source != config.platform.id:
            side = config.side(source)
        elif previous is not None and previous.side != config.platform.id:
            side = config.side(previous.side)
        else:
            side = None
        return side if side is not None else config.platform

    def _priority(self, side: str, name: str, settings: IntegrationConfig) -> int:
        """A side's ownership priority for a field: the rule's priority where that side is
        the owner, else 0."""
        config = self.ctx.config
        if side == config.platform.id:
            rule = settings.ownership_rules().get(name)
            return rule.priority if rule is not None and rule.owner is Owner.PLATFORM else 0
        integration = config.side(side)
        if integration is None:
            return 0
        rule = integration.ownership_rules().get(name)
        return rule.priority if rule is not None and rule.owner is Owner.EXTERNAL else 0

    # -- conflict records --------------------------------------------------------------------
    async def _record(
        self,
        linked: LinkedEvent,
        name: str,
        previous: FieldWrite,
        new: FieldWrite,
        verdict: Arbitration,
        settings: IntegrationConfig,
    ) -> ConflictRecord:
        platform_id = self.ctx.config.platform.id
        first, second = (new, previous) if new.side == platform_id else (previous, new)

        def side_value(write: FieldWrite) -> SideValue:
            if write.side == linked.event.integration_id:
                record_id = linked.event.external_id
            elif write.side == platform_id:
                record_id = linked.platform_incident_id
            else:
                record_id = linked.links.get(write.side, "")
            return SideValue(side=write.side, record_id=record_id, value=write.value, ts=write.ts)

        record = ConflictRecord(
            tenant=linked.event.tenant,
            platform_incident_id=linked.platform_incident_id,
            field=name,
            integration_id=settings.id,
            strategy=settings.conflict_strategy,
            platform=side_value(first),
            external=side_value(second),
        )
        parked = verdict.verdict is Verdict.PARK
        CONFLICTS_DETECTED.labels(settings.id, settings.conflict_strategy.value).inc()
        if parked:
            await self.conflicts.save(record)
            await self.ctx.store.park(
                linked.event.tenant, linked.platform_incident_id, name, record.id
            )
        else:
            resolution = (
                Resolution.OWNERSHIP_PRIORITY
                if settings.conflict_strategy is ConflictStrategy.OWNERSHIP_PRIORITY
                else Resolution.LAST_WRITE_WINS
            )
            winner = verdict.winner.side if verdict.winner is not None else None
            record = await self.conflicts.resolve(
                record, resolution, winner=winner, resolver="auto"
            )
            CONFLICTS_RESOLVED.labels(settings.id, resolution.value).inc()
        async with self.ctx.store.pipeline() as pipe:  # the counters sync-status shows
            q_count_conflict(pipe, linked.event.tenant, settings.id, resolved=not parked)
            await pipe.execute()
        log.info(
            "conflict",
            extra={
                "conflict_id": record.id,
                "incident": record.platform_incident_id,
                "field": name,
                "strategy": settings.conflict_strategy.value,
                "status": record.status.value,
                "winner": record.winner,
                "sides": [record.platform.side, record.external.side],
            },
        )
        return record

    async def _update_pending(self, tenant: str, conflict_id: str, new: FieldWrite) -> None:
        """A parked field changed again: the pending record keeps each side's latest value."""
        record = await self.conflicts.get(tenant, conflict_id)
        if record is None or record.status is not ConflictStatus.PENDING:
            return
        if new.side == record.platform.side:
            part = "platform"
        elif new.side == record.external.side:
            part = "external"
        else:
            return
        current: SideValue = getattr(record, part)
        value = current.model_copy(update={"value": new.value, "ts": new.ts})
        record = record.model_copy(update={part: value})
        await self.conflicts.save(record)

    async def _settle(self, linked: LinkedEvent, offered: dict[str, str | None]) -> ArbiterResult:
        """An operator's resolution: unpark, and propagate the chosen value (if any)."""
        ctx, event = self.ctx, linked.event
        conflict_id = event.resolves_conflict
        assert conflict_id is not None
        record = await self.conflicts.get(event.tenant, conflict_id)
        if record is None:
            log.warning("resolution of an unknown conflict", extra={"conflict_id": conflict_id})
            return ArbiterResult(commands=[])
        await ctx.store.unpark(event.tenant, linked.platform_incident_id, record.field)
        accepted = {f: v for f, v in offered.items() if f == record.field}
        if accepted:
            write = FieldWrite(event.integration_id, accepted[record.field], event.source_ts)
            await ctx.store.set_field_writes(
                event.tenant, linked.platform_incident_id, {record.field: write}
            )
        if record.status is ConflictStatus.PENDING:
            if not accepted:
                resolution, winner = Resolution.IGNORE, None
            elif event.integration_id == ctx.config.platform.id:
                resolution, winner = Resolution.USE_PLATFORM, event.integration_id
            else:
                resolution, winner = Resolution.USE_EXTERNAL, event.integration_id
            resolver = event.actor or "operator"
            record = await self.conflicts.resolve(
                record, resolution, winner=winner, resolver=resolver
            )
        # The control API marks the record resolved as it publishes the resolution; it is
        # counted here, where it takes effect, once whatever the redeliveries.
        if await count_operator_resolution(
            ctx.store.redis, event.tenant, record.integration_id, record.id, ctx.config.dedupe_ttl_s
        ):
            label = record.resolution.value if record.resolution is not None else "unknown"
            CONFLICTS_RESOLVED.labels(record.integration_id, label).inc()
        commands = plan_deliveries(linked, ctx.config, ctx.mappings, accepted=accepted)
        return ArbiterResult(commands=commands, offered=accepted, settled=record)
