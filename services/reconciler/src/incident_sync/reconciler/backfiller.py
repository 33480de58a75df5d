"""One backfill job of one integration (`im integration backfill`): give every existing
platform incident the integration would have synced a record there, through the pipeline.

The platform's incidents made or changed within the job's `since` are listed
(`ChangeFeed.recent`) and sorted by `syncmodel.backfill.select` against the integration's
links, detachments, trigger and the job's status filter; the selection is saved at once, in
a stable order (a dry run ends there). Then each selected incident still without a link is
published as one refresh delivered to the integration only (`backfill.backfill_event`), in
batches, the checkpoint (how many are published) saved after each: the worker plans and makes
each create as any other (the correlation search first, the rate limit and concurrency of the
delivery throttle, the DLQ on a refusal). The job then waits until each published incident
is linked there or its create is in the DLQ, saving the results as they come, and gives up
on the rest (`pending`) after `idle_s` without news. A job taken over from a reconciler that
stopped goes on from its checkpoint; its events' delivery ids are the ones published before,
so the gate drops a second copy.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from redis.asyncio import Redis

from incident_sync.connectors.capabilities import ChangeFeed
from incident_sync.reconciler.jobs import JobRunner
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.sides import Sides
from incident_sync.syncmodel import backfill
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys
from incident_sync.syncstate.backfilljobs import (
    LISTED,
    BackfillItem,
    BackfillJob,
    BackfillJobStore,
)
from incident_sync.syncstate.dlq import DlqIndex

BATCH = 50  # refreshes published, then the checkpoint saved
POLL_S = 1.0  # how often the links of the published incidents are looked at
IDLE_S = 120.0  # waiting ends after this long without a new link or DLQ entry
DLQ_SCAN = 1_000  # the integration's newest DLQ entries looked at for a refused create


class BackfillError(Exception):
    """The job cannot run (the integration is gone or gets no writes, the platform cannot
    list its incidents)."""


class Backfiller(JobRunner[BackfillJob]):
    def __init__(
        self,
        sides: Sides,
        store: BackfillJobStore,
        publisher: Publisher,
        redis: Redis,
        instance: str,
        *,
        idle_s: float = IDLE_S,
    ) -> None:
        self.sides = sides
        self.store = store
        self.publisher = publisher
        self.redis = redis
        self.instance = instance
        self.idle_s = idle_s

    async def work(self, job: BackfillJob, requests: Counter[str]) -> BackfillJob:
        if not job.selected:
            job = await self._select(job)
            job.requests = dict(requests)
            await self.store.save(job)
        if job.dry_run:
            return job
        await self._publish(job, requests)
        await self._wait(job, requests)
        return job

    async def _select(self, job: BackfillJob) -> BackfillJob:
        config = self.sides.config
        side = config.side(job.integration)
        if side is None:
            raise BackfillError(f"integration {job.integration} is not configured")
        if not side.direction.writes_outbound:
            raise BackfillError(f"{job.integration} is {side.direction.value}: it gets no writes")
        connector = self.sides.connector(config.platform.id)
        if not isinstance(connector, ChangeFeed):
            raise BackfillError(f"{config.platform.id} cannot list its incidents")
        listed = await connector.recent(utcnow() - timedelta(seconds=job.since_s))
        incidents = [
            backfill.Incident(
                id=i.external_id,
                fields=i.fields,
                reference=i.reference,
                created=i.created_at or i.updated_at,
            )
            for i in listed
        ]
        ids = [i.id for i in incidents]
        linked, detached = await self._linked(job, ids), await self._detached(job, ids)
        chosen = backfill.select(
            incidents,
            side,
            job.status_filter,
            linked=set(linked),
            detached=detached,
        )
        job.items = [
            BackfillItem(incident=i.id, reference=i.reference, title=i.fields.get("title"))
            for i in chosen.chosen
        ]
        job.not_matching = chosen.not_matching[:LISTED]
        job.closed = chosen.closed[:LISTED]
        job.detached = chosen.detached[:LISTED]
        c = job.counts
        c.selected = len(chosen.chosen)
        c.already_linked = len(chosen.linked)
        c.not_matching = len(chosen.not_matching)
        c.closed = len(chosen.closed)
        c.detached = len(chosen.detached)
        c.pending = 0 if job.dry_run else c.selected
        job.listed = {config.platform.id: len(listed)}
        job.selected = True
        return job

    async def _linked(self, job: BackfillJob, incidents: list[str]) -> dict[str, str]:
        """Incident -> its record of the integration, for those linked there."""
        if not incidents:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for incident in incidents:
                pipe.hget(keys.links(job.tenant, incident), job.integration)
            found = await pipe.execute()
        return {
            i: (r.decode() if isinstance(r, bytes) else str(r))
            for i, r in zip(incidents, found, strict=True)
            if r is not None
        }

    async def _detached(self, job: BackfillJob, incidents: list[str]) -> set[str]:
        if not incidents:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for incident in incidents:
                pipe.hexists(keys.detached(job.tenant, incident), job.integration)
            found = await pipe.execute()
        return {i for i, d in zip(incidents, found, strict=True) if d}

    async def _publish(self, job: BackfillJob, requests: Counter[str]) -> None:
        """From the checkpoint on: each incident still without a link is published."""
        platform = self.sides.config.platform.id
        while job.counts.published < len(job.items):
            batch = job.items[job.counts.published : job.counts.published + BATCH]
            linked = await self._linked(job, [i.incident for i in batch])
            events = []
            for item in batch:
                if item.incident in linked:  # linked meanwhile (or before a resumed run)
                    item.result, item.record = "already_linked", linked[item.incident]
                    continue
                item.result = "published"
                events.append(
                    backfill.backfill_event(
                        job.tenant, platform, job.integration, item.incident,
                        job_id=job.id, now=utcnow(),
                    )
                )  # fmt: skip
            await self.publisher.publish(events)  # the broker away fails the job: a rerun
            job.counts.published += len(batch)
            self._count(job)
            job.requests = dict(requests)
            await self.store.save(job)  # the checkpoint

    async def _wait(self, job: BackfillJob, requests: Counter[str]) -> None:
        """Until every published incident is linked or dead-lettered, or `idle_s` without."""
        clock = time.monotonic()
        news = clock
        dlq = DlqIndex(self.redis)
        since = job.started_at or utcnow()
        while True:
            waiting = [i for i in job.items if i.result in ("published", "pending")]
            if not waiting:
                break
            linked = await self._linked(job, [i.incident for i in waiting])
            refused = {
                e.command.platform_incident_id: e
                for e in await dlq.list(job.tenant, job.integration, limit=DLQ_SCAN)
                if e.command.target_external_id is None and e.dead_at >= since
            }
            moved = False
            for item in waiting:
                if item.incident in linked:
                    item.result, item.record, moved = "created", linked[item.incident], True
                elif (entry := refused.get(item.incident)) is not None:
                    item.result, moved = "failed", True
                    item.error = f"{entry.reason.value}: {entry.last_error} (DLQ {entry.id})"
            if moved:
                news = time.monotonic()
                self._count(job)
                job.requests = dict(requests)
                await self.store.save(job)
            elif time.monotonic() - news >= self.idle_s:
                for item in waiting:
                    item.result = "pending"
                break
            await asyncio.sleep(POLL_S)
        job.waited_s = round((job.waited_s or 0.0) + time.monotonic() - clock, 3)
        self._count(job)
        job.errors = [
            f"{i.reference or i.incident}: {i.error}" for i in job.items if i.result == "failed"
        ][:LISTED]

    @staticmethod
    def _count(job: BackfillJob) -> None:
        results = Counter(i.result for i in job.items)
        c = job.counts
        c.created = results["created"]
        c.failed = results["failed"]
        c.pending = results["published"] + results["pending"] + results["planned"]
        c.linked_meanwhile = results["already_linked"]
