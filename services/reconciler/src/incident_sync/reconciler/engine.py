"""One reconcile run of one integration: read both sides of every link in batches, compare
(`syncmodel.drift`), and with auto-heal send the corrective changes through the pipeline; a
discrepancy an earlier heal did not remove is reported as unhealable instead of healed again
(`syncmodel.healing`, the attempts kept in `reconciler.attempts`).

Reads: the links and what the pipeline knew of each record come from Redis in pipelined
batches; the records themselves through the connectors' `fetch_many` (ServiceNow `sys_idIN`,
Jira `id in (...)`, incident.io and PagerDuty list endpoints, where those take fewer
requests than one read per record). Comments are not read: they are not compared.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from opentelemetry.trace import SpanKind

from incident_sync.connectors.base import RecordState
from incident_sync.reconciler import metrics
from incident_sync.reconciler.attempts import Attempts
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.sides import REQUESTS, Sides
from incident_sync.runtime import tracing
from incident_sync.syncmodel import drift, healing
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent, utcnow
from incident_sync.syncstate.links import Known, LinkView
from incident_sync.syncstate.reconcile import LISTED_DISCREPANCIES, ReconcileRun, RunMode, RunStatus
from incident_sync.syncstate.timeline import Entry, Kind, Timeline

log = logging.getLogger("reconciler.engine")


class ReconcileError(Exception):
    """The run cannot start (e.g. the integration is not configured)."""


# More records gone than this share of the links (and at least MISSING_FLOOR) looks like a
# read gone wrong (permissions, an instance's row limit), not deletions: nothing is unlinked
# or recreated then, the gone records are only reported.
MISSING_SHARE = 0.1
MISSING_FLOOR = 5


@dataclass
class Outcome:
    links: int
    discrepancies: list[drift.Discrepancy]
    events: list[ChangeEvent]
    unlinks: list[drift.Discrepancy]
    notes: list[str] = field(default_factory=list)
    judgement: healing.Judgement | None = None

    @property
    def healed(self) -> list[drift.Discrepancy]:
        """What an auto-heal sends a corrective change for (or unlinks)."""
        idle = (drift.Heal.NONE, drift.Heal.UNHEALABLE)
        return [d for d in self.discrepancies if d.heal not in idle]

    @property
    def counted(self) -> list[drift.Discrepancy]:
        """The discrepancies to count: an unhealable one only when first judged so."""
        newly = self.judgement.newly_unhealable if self.judgement else []
        return [d for d in self.discrepancies if d.heal is not drift.Heal.UNHEALABLE] + newly


class Engine:
    def __init__(
        self,
        sides: Sides,
        view: LinkView,
        publisher: Publisher,
        instance: str,
        timeline: Timeline | None = None,
    ):
        self.sides = sides
        self.view = view
        self.publisher = publisher
        self.instance = instance
        self.attempts = Attempts(view.redis)
        self.timeline = timeline if timeline is not None else Timeline(view.redis)

    async def run(self, run: ReconcileRun) -> ReconcileRun:
        """Carry out a requested run; the returned record says how it went."""
        clock = time.monotonic()
        requests: Counter[str] = Counter()
        REQUESTS.set(requests)  # this task's own: a run is one task
        run = run.model_copy(
            update={
                "status": RunStatus.RUNNING,
                "started_at": run.started_at or utcnow(),
                "worker": self.instance,
            }
        )
        integration_id = run.integration
        heals = run.mode is RunMode.AUTO_HEAL
        side = self.sides.config.side(integration_id)
        try:
            with tracing.stage(
                "reconcile",
                kind=SpanKind.INTERNAL,
                integration_id=integration_id,
                integration_type=side.type if side else None,
            ) as span:
                span.set_attribute("sync.reconcile_mode", run.mode.value)
                outcome = await self.compare(run)
                if heals:
                    await self.heal(run, outcome)
        except Exception as exc:
            log.exception("reconcile failed", extra={"run": run.id, "integration": integration_id})
            metrics.RUNS.labels(integration_id, "failed").inc()
            return self._finish(run, clock, requests, status=RunStatus.FAILED, error=repr(exc))
        for d in outcome.counted:
            metrics.DISCREPANCIES.labels(integration_id, d.type.value, d.field or "").inc()
        for d in outcome.judgement.newly_unhealable if outcome.judgement else []:
            metrics.UNHEALABLE.labels(integration_id, d.field or "").inc()
        healed = outcome.healed if heals else []
        for d in healed:
            metrics.HEALED.labels(integration_id, d.type.value, d.field or "").inc()
        metrics.RUNS.labels(integration_id, "success").inc()
        metrics.LAST_SUCCESS.labels(integration_id).set(time.time())
        log.info(
            "reconciled",
            extra={
                "run": run.id,
                "integration": integration_id,
                "mode": run.mode.value,
                "links": outcome.links,
                "discrepancies": len(outcome.discrepancies),
                "fixes": len(healed),
            },
        )
        return self._finish(
            run,
            clock,
            requests,
            status=RunStatus.SUCCEEDED,
            links=outcome.links,
            discrepancies_found=len(outcome.discrepancies),
            discrepancies=outcome.discrepancies[:LISTED_DISCREPANCIES],
            fixes=len(healed),
            notes=outcome.notes,
        )

    def _finish(
        self, run: ReconcileRun, clock: float, requests: Counter[str], **update: object
    ) -> ReconcileRun:
        elapsed = time.monotonic() - clock
        metrics.RUN_SECONDS.labels(run.integration).observe(elapsed)
        return run.model_copy(
            update={
                **update,
                "finished_at": utcnow(),
                "duration_s": round(elapsed, 3),
                "requests": dict(requests),
            }
        )

    def _integration(self, integration_id: str) -> IntegrationConfig:
        config = self.sides.config
        integration = config.side(integration_id)
        if integration is None or integration is config.platform:
            raise ReconcileError(f"no integration {integration_id!r} is configured")
        return integration

    async def compare(self, run: ReconcileRun) -> Outcome:
        config = self.sides.config
        integration = self._integration(run.integration)
        platform_id, tenant = config.platform.id, run.tenant
        links = await self.view.links(tenant, integration.id)
        record_ids = sorted(links)
        incidents = sorted(set(links.values()))
        tool_records = await self.sides.connector(integration.id).fetch_many(
            record_ids, comments=False
        )
        platform_records = await self.sides.connector(platform_id).fetch_many(
            incidents, comments=False
        )
        known_tool = await self.view.known(tenant, integration.id, record_ids)
        known_platform = await self.view.known(tenant, platform_id, incidents)
        standing = await self.view.standing(tenant, incidents)
        parked = await self.view.parked(tenant, incidents)
        flows = drift.flows(integration, self.sides.mapping(integration.id))
        now = utcnow()
        outcome = Outcome(links=len(links), discrepancies=[], events=[], unlinks=[])
        healable: dict[str, drift.LinkSides] = {}
        for external_id in record_ids:
            pid = links[external_id]
            tool, platform = tool_records.get(external_id), platform_records.get(pid)
            if tool is None or platform is None:
                gone = drift.missing(
                    pid,
                    external_id,
                    platform_gone=platform is None,
                    policy=run.on_missing,
                    reference=tool.reference if tool is not None else None,
                )
                outcome.discrepancies.append(gone)
                if gone.heal is not drift.Heal.NONE:
                    outcome.unlinks.append(gone)
                continue
            platform_side = _side(platform, known_platform.get(pid))
            tool_side = _side(tool, known_tool.get(external_id))
            found = drift.compare(
                pid,
                external_id,
                platform_side,
                tool_side,
                flows,
                standing=standing.get(pid),
                parked=parked.get(pid, set()),
            )
            if not found:
                continue
            outcome.discrepancies += found
            healable[external_id] = drift.LinkSides(
                tenant, platform_id, integration.id, pid, external_id, platform_side, tool_side
            )
        outcome.judgement = healing.judge(
            outcome.discrepancies,
            await self.attempts.read(tenant, integration.id),
            run_id=run.id,
            now=now,
            healing=run.mode is RunMode.AUTO_HEAL,
        )
        outcome.discrepancies = outcome.judgement.discrepancies
        if run.mode is RunMode.AUTO_HEAL:
            for external_id, link in healable.items():
                mine = [d for d in outcome.discrepancies if d.external_id == external_id]
                pid = link.platform_incident_id
                outcome.events += drift.heal_events(
                    link, mine, run_id=run.id, now=now, standing=standing.get(pid)
                )
        limit = max(MISSING_FLOOR, int(len(links) * MISSING_SHARE))
        if len(outcome.unlinks) > limit:
            outcome.notes.append(
                f"{len(outcome.unlinks)} of {len(links)} records are gone (more than {limit}): "
                "reported only, nothing unlinked or recreated; check the integration's access"
            )
            held_back = set(map(id, outcome.unlinks))
            outcome.discrepancies = [
                d.model_copy(update={"heal": drift.Heal.NONE}) if id(d) in held_back else d
                for d in outcome.discrepancies
            ]
            outcome.unlinks = []
        return outcome

    async def _record(self, run: ReconcileRun, healed: list[drift.Discrepancy]) -> None:
        """Each correction sent on its incident's timeline (one round trip for the run)."""
        if not healed:
            return
        trace = tracing.trace_id()
        async with self.view.redis.pipeline(transaction=False) as pipe:
            for d in healed:
                detail = {"run": run.id, "record": d.external_id, "heal": d.heal.value}
                fields = (d.field,) if d.field else ()
                entry = Entry(Kind.HEALED, (run.integration,), fields, d.type.value, trace, detail)
                self.timeline.q_add(pipe, run.tenant, d.platform_incident_id, entry)
            await pipe.execute()

    async def heal(self, run: ReconcileRun, outcome: Outcome) -> None:
        """Unlink (and recreate) what is gone, then publish the corrective changes."""
        config = self.sides.config
        now = utcnow()
        for gone in outcome.unlinks:
            await self.view.unlink(
                run.tenant, gone.platform_incident_id, run.integration, gone.external_id
            )
            if gone.heal is drift.Heal.RECREATE:
                outcome.events.append(
                    drift.recreate_event(
                        run.tenant,
                        config.platform.id,
                        run.integration,
                        gone.platform_incident_id,
                        run_id=run.id,
                        now=now,
                    )
                )
        await self.publisher.publish(outcome.events)
        await self._record(run, outcome.healed)
        if outcome.judgement is not None:  # remembered once sent: the next run judges them
            judged = outcome.judgement
            await self.attempts.write(run.tenant, run.integration, judged.attempts, judged.forget)


def _side(record: RecordState, known: Known | None) -> drift.Side:
    return drift.Side(
        fields=record.fields,
        known=known.fields if known is not None else {},
        version=record.version,
        updated_at=record.updated_at,
        reference=record.reference,
        sent=known.sent if known is not None else {},
    )
