"""The reconciler's work loop: hold leases, and for every side held work its requests, its
schedule and its polling.

Every round (a third of the lease time, at most `tick_s`): reload the config if it changed,
renew or take the leases of the tenant's sides (the platform and each integration), and keep
one task per side held. A side's task serves the integration's queued runs (requested through
the control API, or queued by its schedule), then its queued jobs (link jobs,
`reconciler.linker`; backfills, `reconciler.backfiller`), and polls the side when its interval
is due. A lease lost stops its task at once; a run or link job it interrupts is recorded as
failed, a backfill is put back on its queue and goes on from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from redis.asyncio import Redis

from incident_sync.controlstore import stats as counters
from incident_sync.reconciler.backfiller import Backfiller
from incident_sync.reconciler.engine import Engine
from incident_sync.reconciler.jobs import JobRunner
from incident_sync.reconciler.leases import Leases
from incident_sync.reconciler.linker import Linker
from incident_sync.reconciler.poller import Poller
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys
from incident_sync.syncstate.backfilljobs import BackfillJobStore
from incident_sync.syncstate.jobs import J, JobStatus, JobStore
from incident_sync.syncstate.linkjobs import LinkJobStore
from incident_sync.syncstate.links import LinkView
from incident_sync.syncstate.reconcile import (
    ReconcileRun,
    ReconcileSchedule,
    ReconcileStore,
    RunMode,
    RunStatus,
)
from incident_sync.syncstate.timeline import Timeline

T = TypeVar("T")
log = logging.getLogger("reconciler")


class Reconciler:
    def __init__(self, settings: ReconcilerSettings, sides: Sides, redis: Redis) -> None:
        self.settings = settings
        self.sides = sides
        self.redis = redis
        self.tenant = settings.sync_tenant
        self.store = ReconcileStore(redis)
        self.publisher = Publisher(settings, redis)
        timeline = Timeline(redis, settings.timeline_max_entries, settings.timeline_retention_s)
        self.engine = Engine(sides, LinkView(redis), self.publisher, settings.instance, timeline)
        self.link_jobs = LinkJobStore(redis)
        self.linker = Linker(
            sides, self.link_jobs, self.publisher, redis, settings.instance, timeline
        )
        self.backfills = BackfillJobStore(redis)
        self.backfiller = Backfiller(
            sides, self.backfills, self.publisher, redis, settings.instance,
            idle_s=settings.backfill_idle_s,
        )  # fmt: skip
        self.poller = Poller(
            sides,
            self.store,
            self.publisher,
            interval_s=settings.poll_interval_s,
            overlap_s=settings.poll_overlap_s,
        )
        self.leases = Leases(redis, self.tenant, settings.lease_s, settings.instance)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.last_polls: dict[str, str] = {}

    @property
    def round_s(self) -> float:
        return min(self.settings.tick_s, self.settings.lease_s / 3)

    def sides_to_work(self) -> list[str]:
        config = self.sides.config
        return [config.platform.id, *(i.id for i in config.integrations)]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():  # the broker may not be up yet: wait for it
            try:
                await self.publisher.start()
                break
            except Exception as exc:  # noqa: BLE001 - retried until it answers
                log.warning("broker not reachable yet", extra={"reason": repr(exc)})
                await _wait(stop, 2.0)
        next_reload = time.monotonic() + self.settings.config_reload_s
        try:
            while not stop.is_set():
                if time.monotonic() >= next_reload:
                    next_reload = time.monotonic() + self.settings.config_reload_s
                    with contextlib.suppress(Exception):
                        await self.sides.reload()
                await self._round()
                await _wait(stop, self.round_s)
        finally:
            await self._stop_all()

    async def _round(self) -> None:
        _, lost = await self.leases.refresh(self.sides_to_work())
        for side in lost:
            await self._cancel(side)
        for side in self.leases.held:
            task = self.tasks.get(side)
            if task is None or task.done():
                self.tasks[side] = asyncio.create_task(self._work(side), name=f"side:{side}")

    async def _cancel(self, side: str) -> None:
        task = self.tasks.pop(side, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _stop_all(self) -> None:
        for side in list(self.tasks):
            await self._cancel(side)
        with contextlib.suppress(Exception):
            await self.leases.release_all()
        await self.publisher.stop()

    # -- one side ----------------------------------------------------------------------------
    async def _work(self, side: str) -> None:
        is_integration = side != self.sides.config.platform.id
        if is_integration:
            await self._fail_orphaned(side)
        while True:
            try:
                if is_integration:
                    await self._schedule(side)
                    while (run := await self.store.next_request(self.tenant, side)) is not None:
                        await self._execute(run)
                    while (job := await self.link_jobs.next_request(self.tenant, side)) is not None:
                        await self._job(self.link_jobs, self.linker, job, "a rerun links the rest")
                    while (bf := await self.backfills.next_request(self.tenant, side)) is not None:
                        await self._job(self.backfills, self.backfiller, bf, None)
                if self.sides.pollable(side) and await self.poller.due(self.tenant, side):
                    await self.poller.poll(self.tenant, side)
                    self.last_polls[side] = utcnow().isoformat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("side work failed", extra={"side": side})
            await asyncio.sleep(self.settings.tick_s)

    async def _execute(self, run: ReconcileRun) -> None:
        running = run.model_copy(
            update={
                "status": RunStatus.RUNNING,
                "started_at": utcnow(),
                "worker": self.settings.instance,
            }
        )
        await self.store.save(running)
        try:
            done = await self.engine.run(running)
        except asyncio.CancelledError:
            stopped = running.model_copy(
                update={
                    "status": RunStatus.FAILED,
                    "finished_at": utcnow(),
                    "error": "interrupted: this reconciler lost its lease or stopped",
                }
            )
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.save(stopped))
            raise
        await self.store.save(done)
        if done.status is RunStatus.SUCCEEDED and done.discrepancies_found:
            # The durable twin of incident_sync_drift_discrepancies_total: what
            # `im integration sync-status` shows, the same on every replica.
            await self.store.redis.hincrby(
                keys.stats(run.tenant, run.integration),
                counters.DRIFT_DISCREPANCIES,
                done.discrepancies_found,
            )

    async def _job(
        self, store: JobStore[J], runner: JobRunner[J], job: J, rerun: str | None
    ) -> None:
        """Run a job. Interrupted: with `rerun` (what a rerun does), it is failed; without,
        it is put back on its queue for the next holder of the lease, who goes on with it."""
        running = job.model_copy(
            update={
                "status": JobStatus.RUNNING,
                "started_at": job.started_at or utcnow(),
                "worker": self.settings.instance,
            }
        )
        await store.save(running)
        try:
            done = await runner.run(running)
        except asyncio.CancelledError:
            if rerun is None:
                # Back on the queue as it was last saved: the next holder goes on with it.
                saved = await _quietly(store.get(job.tenant, job.id))
                if saved is not None:
                    await _quietly(store.requeue(saved))
                raise
            error = f"interrupted: this reconciler lost its lease or stopped ({rerun})"
            stopped = running.model_copy(
                update={"status": JobStatus.FAILED, "finished_at": utcnow(), "error": error}
            )
            await _quietly(store.save(stopped))
            raise
        await store.save(done)

    async def _fail_orphaned(self, integration: str) -> None:
        """Runs and link jobs left `running` by a reconciler that died holding this lease are
        failed; its backfills are queued again, to go on from their checkpoints."""
        for backfill in await self.backfills.history(self.tenant, integration, limit=20):
            if backfill.status is JobStatus.RUNNING and backfill.worker != self.settings.instance:
                await self.backfills.requeue(
                    backfill.model_copy(update={"resumed": backfill.resumed + 1})
                )
        for job in await self.link_jobs.history(self.tenant, integration, limit=20):
            if job.status is JobStatus.RUNNING and job.worker != self.settings.instance:
                stopped = (
                    f"the reconciler running it ({job.worker}) stopped; a rerun links the rest"
                )
                await self.link_jobs.save(
                    job.model_copy(
                        update={
                            "status": JobStatus.FAILED,
                            "finished_at": utcnow(),
                            "error": stopped,
                        }
                    )
                )
        for run in await self.store.history(self.tenant, integration, limit=20):
            if run.status is RunStatus.RUNNING and run.worker != self.settings.instance:
                await self.store.save(
                    run.model_copy(
                        update={
                            "status": RunStatus.FAILED,
                            "finished_at": utcnow(),
                            "error": f"the reconciler running it ({run.worker}) stopped",
                        }
                    )
                )

    async def _schedule(self, integration: str) -> None:
        """Queue a run when the integration's schedule (or the default one) is due."""
        schedule = await self.store.schedule(self.tenant, integration)
        if schedule is None:
            if not self.settings.default_interval_s:
                return
            schedule = ReconcileSchedule(interval_s=max(1, int(self.settings.default_interval_s)))
        if not schedule.enabled:
            return
        now = utcnow()
        last = await self.store.last_scheduled(self.tenant, integration)
        if last is not None and now - last < timedelta(seconds=schedule.interval_s):
            return
        await self.store.set_last_scheduled(self.tenant, integration, now)
        await self.store.request(
            ReconcileRun(
                tenant=self.tenant,
                integration=integration,
                mode=RunMode.AUTO_HEAL if schedule.auto_heal else RunMode.DRY_RUN,
                on_missing=schedule.on_missing,
                trigger="schedule",
                requested_by="schedule",
            )
        )

    def status(self) -> dict[str, object]:
        return {
            "instance": self.settings.instance,
            "holder": self.leases.token,
            "tenant": self.tenant,
            "leases": sorted(self.leases.held),
            "working": sorted(s for s, t in self.tasks.items() if not t.done()),
            "last_polls": dict(self.last_polls),
        }


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _quietly(step: Awaitable[T]) -> T | None:
    """A last write on the way out (shielded from the cancellation; its failure ignored)."""
    with contextlib.suppress(Exception):
        return await asyncio.shield(step)
    return None
