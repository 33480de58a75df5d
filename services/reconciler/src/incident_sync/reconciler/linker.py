"""One link job of one integration (`im integration link --auto`): list what exists on both
sides, plan the pairs (`syncmodel.matching.plan_links`) and, unless it is a dry run, link them.

The platform's incidents and the integration's records made or changed within the job's
`since` are listed through the connectors' `ChangeFeed.recent` (ServiceNow's listing, unlike
its change feed, includes records whose correlation column is empty). What is linked already
is left out, so a rerun plans nothing new. Each pair is linked as a single `im integration
link` links one: `syncstate.links.link_pair` (never over another link), an audit entry
(`integration.link`, naming the job and its requester), and one sync of the pair
(`syncmodel.firstsync`: a refresh of the record, or with the job's `initial` one refresh per
side for the fields it wins at first link) published through the pipeline. The job's record
shows the plan at once and the counts as they move (saved at most every `PROGRESS_S`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from redis.asyncio import Redis

from incident_sync.connectors.base import RecordState
from incident_sync.connectors.capabilities import ChangeFeed
from incident_sync.controlstore.store import Actor, append_audit, audit_entry
from incident_sync.reconciler.candidates import candidate
from incident_sync.reconciler.jobs import JobRunner
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.sides import Sides
from incident_sync.runtime import tracing
from incident_sync.syncmodel import firstsync, matching
from incident_sync.syncmodel.events import ChangeEvent, utcnow
from incident_sync.syncstate import links
from incident_sync.syncstate.linkjobs import (
    LISTED,
    AmbiguousItem,
    LinkJob,
    LinkJobStore,
    PlannedPair,
)
from incident_sync.syncstate.timeline import Entry, Kind, Timeline

PROGRESS_S = 0.5  # at most this often the job's counts are saved while it links
IN_FLIGHT = 32  # pairs linked at once


class LinkJobError(Exception):
    """The job cannot run (the integration is gone, a side cannot list its records)."""


class Linker(JobRunner[LinkJob]):
    def __init__(
        self,
        sides: Sides,
        store: LinkJobStore,
        publisher: Publisher,
        redis: Redis,
        instance: str,
        timeline: Timeline | None = None,
    ) -> None:
        self.sides = sides
        self.store = store
        self.publisher = publisher
        self.redis = redis
        self.instance = instance
        self.timeline = timeline if timeline is not None else Timeline(redis)

    async def work(self, job: LinkJob, requests: Counter[str]) -> LinkJob:
        job = await self._plan(job)
        job.requests = dict(requests)
        await self.store.save(job)
        if not job.dry_run:
            job = await self._link(job, requests)
        return job

    async def _listing(self, side_id: str, job: LinkJob) -> list[RecordState]:
        connector = self.sides.connector(side_id)
        if not isinstance(connector, ChangeFeed):
            raise LinkJobError(f"{side_id} cannot list its existing records")
        return await connector.recent(utcnow() - timedelta(seconds=job.since_s))

    async def _plan(self, job: LinkJob) -> LinkJob:
        config = self.sides.config
        if config.side(job.integration) is None:
            raise LinkJobError(f"integration {job.integration} is not configured")
        platform_id = config.platform.id
        incidents = await self._listing(platform_id, job)
        records = await self._listing(job.integration, job)
        linked = await links.linked_records(self.redis, job.tenant, job.integration)
        now = utcnow()
        plan = matching.plan_links(
            [candidate(i, correlation=False, now=now) for i in incidents],
            [candidate(r, correlation=True, now=now) for r in records],
            job.by,
            linked_incidents=set(linked.values()),
            linked_records=set(linked),
        )
        by_incident = {i.external_id: i for i in incidents}
        by_record = {r.external_id: r for r in records}

        def reference(item_id: str, side: str) -> str | None:
            found = (by_incident if side == "incident" else by_record).get(item_id)
            return found.reference if found else None

        job.pairs = [
            PlannedPair(
                incident=p.incident,
                incident_reference=reference(p.incident, "incident"),
                record=p.record,
                record_reference=reference(p.record, "record"),
                title=by_incident[p.incident].fields.get("title"),
                by=p.by,
                incident_changed=by_incident[p.incident].updated_at,
                record_changed=by_record[p.record].updated_at,
            )
            for p in plan.pairs
        ]
        job.ambiguous = [
            AmbiguousItem(
                side="incident" if a.side == "incident" else "record",
                id=a.id,
                reference=reference(a.id, a.side),
                candidates=list(a.candidates),
            )
            for a in plan.ambiguous
        ]
        job.unmatched_incidents = list(plan.unmatched_incidents[:LISTED])
        job.unmatched_records = list(plan.unmatched_records[:LISTED])
        counts = plan.counts
        job.counts.planned = counts["pairs"]
        job.counts.ambiguous = counts["ambiguous_incidents"] + counts["ambiguous_records"]
        job.counts.unmatched = counts["unmatched_incidents"] + counts["unmatched_records"]
        job.counts.already_linked = len(linked)
        job.listed = {platform_id: len(incidents), job.integration: len(records)}
        return job

    async def _link(self, job: LinkJob, requests: Counter[str]) -> LinkJob:
        """Every planned pair, `IN_FLIGHT` at a time (each pair's round trips to Redis and
        the broker are what a pair costs; pairs are independent). Each pair runs to its end,
        whatever another's fate: a pair stopped between its link and its sync would be
        linked with no sync and no word of it. The first failure is raised once all ended."""
        saved = time.monotonic()
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(pair: PlannedPair) -> None:
            nonlocal saved
            async with slots:
                try:
                    await self._link_pair(job, pair)
                finally:
                    job.counts.done += 1
            if time.monotonic() - saved >= PROGRESS_S:
                saved = time.monotonic()
                job.requests = dict(requests)
                await self.store.save(job)

        outcomes = await asyncio.gather(*(one(p) for p in job.pairs), return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            raise failed
        return job

    async def _link_pair(self, job: LinkJob, pair: PlannedPair) -> None:
        outcome = await links.link_pair(
            self.redis, job.tenant, pair.incident, job.integration, pair.record
        )
        if outcome.result == "unchanged":
            pair.result = "unchanged"
            job.counts.unchanged += 1
            return
        if outcome.result == "taken":
            pair.result = "taken"
            pair.error = _taken(outcome)
            job.counts.errors += 1
            job.errors.append(f"{pair.record_reference or pair.record}: {pair.error}")
            return
        await self._audit(job, pair)
        await self._recorded(job, pair)
        events = self._first_sync(job, pair)
        pair.result = "linked"
        job.counts.linked += 1
        try:
            await self.publisher.publish(events)
        except Exception:
            pair.error = (
                "linked, but its sync could not be queued: run `im integration sync "
                f"{job.integration} --record {pair.record}`"
            )
            job.counts.errors += 1
            job.errors.append(f"{pair.record_reference or pair.record}: {pair.error}")
            raise  # the broker is away: the rest waits for a rerun (which plans them again)
        pair.event_id = events[0].event_id if events else None

    def _first_sync(self, job: LinkJob, pair: PlannedPair) -> list[ChangeEvent]:
        """The pair's first sync: a refresh of the record (`first_sync`), or with `initial`
        one refresh per side for the fields it wins (`initial_sync`)."""
        config = self.sides.config
        side = config.side(job.integration)
        if side is None:
            raise LinkJobError(f"integration {job.integration} is no longer configured")
        actor = job.requested_by.name if job.requested_by else "link-job"
        if job.initial is None:
            event = firstsync.first_sync(
                job.tenant,
                platform=config.platform.id,
                integration=job.integration,
                takes_in=side.direction.accepts_inbound,
                incident=pair.incident,
                record_id=pair.record,
                actor=actor,
            )
            return [event]
        now = utcnow()
        won = firstsync.winners(
            side,
            self.sides.mapping(job.integration),
            job.initial,
            platform_changed=pair.incident_changed or now,
            external_changed=pair.record_changed or now,
        )
        return firstsync.initial_sync(
            job.tenant,
            platform=config.platform.id,
            integration=side,
            won=won,
            incident=pair.incident,
            record_id=pair.record,
            actor=actor,
        )

    async def _recorded(self, job: LinkJob, pair: PlannedPair) -> None:
        """The link on the incident's timeline, and the record's reference beside it."""
        detail = {
            "record": pair.record,
            "reference": pair.record_reference,
            "match": pair.by.value,
            "job": job.id,
            "by": job.requested_by.name if job.requested_by else None,
        }
        entry = Entry(Kind.LINKED, (job.integration,), (), "link_job", tracing.trace_id(), detail)
        async with self.redis.pipeline(transaction=False) as pipe:
            self.timeline.q_add(pipe, job.tenant, pair.incident, entry)
            if pair.record_reference and pair.record_reference != pair.record:
                self.timeline.q_reference(pipe, job.tenant, pair.record_reference, pair.incident)
            await pipe.execute()

    async def _audit(self, job: LinkJob, pair: PlannedPair) -> None:
        who = job.requested_by
        actor = Actor(who.id, who.name, who.role) if who else Actor("", "link-job", "")
        entry = audit_entry(
            actor,
            "integration.link",
            job.tenant,
            {"kind": "integration", "name": job.integration},
            after={
                "incident": pair.incident,
                "record": pair.record_reference or pair.record,
                "record_id": pair.record,
                "by": pair.by.value,
                "initial": job.initial.value if job.initial else None,
                "job": job.id,
            },
        )
        await append_audit(self.redis, job.tenant, entry)


def _taken(outcome: links.PairLink) -> str:
    held = []
    if outcome.record_incident is not None:
        held.append(f"the record is linked to incident {outcome.record_incident}")
    if outcome.incident_record is not None:
        held.append(f"the incident is linked to record {outcome.incident_record}")
    return "; ".join(held) + " (linked meanwhile; a link is never moved)"
