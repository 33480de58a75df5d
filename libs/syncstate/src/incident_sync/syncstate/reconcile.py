"""Reconcile runs, requests and schedules: what the control API asks of the reconciler and
what the reconciler reports back, in Redis.

A run is requested by the control API (or due by its schedule): its record is saved as
`queued` and its id pushed on the integration's request queue. The reconciler that holds the
integration's lease takes it from the queue, marks it `running`, and saves the outcome
(discrepancies, fixes, duration, requests per side) when done. History is the integration's
runs, newest first.

Keys (tenant-scoped, `is:{tenant}:reconcile:`):
`run:{id}` (the record, JSON, kept `RUN_TTL_S`), `runs:{integration}` (sorted set of run ids by
request time, the newest `HISTORY_KEPT`), `queue:{integration}` (list of requested run ids),
`schedule:{integration}` (the schedule, JSON), `scheduled:{integration}` (when the schedule
last queued a run), `watermark:{side}` (the polling fallback's position), `lease:{side}` (the
reconciler that works the side).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from incident_sync.syncmodel.drift import Discrepancy, MissingPolicy
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys

RUN_TTL_S: Final = 30 * 86_400
HISTORY_KEPT: Final = 200
LISTED_DISCREPANCIES: Final = 1_000  # a run records this many in full, and counts them all


class RunMode(StrEnum):
    DRY_RUN = "dry-run"  # report only
    AUTO_HEAL = "auto-heal"  # report and send corrective changes


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED)


class ReconcileRun(BaseModel):
    id: str = Field(default_factory=lambda: "rec-" + os.urandom(6).hex())
    tenant: str = "default"
    integration: str
    mode: RunMode
    on_missing: MissingPolicy = MissingPolicy.REPORT
    trigger: str = "api"  # "api" (someone asked) or "schedule"
    requested_by: str | None = None
    status: RunStatus = RunStatus.QUEUED
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    worker: str | None = None  # the reconciler instance that ran it
    links: int = 0  # links compared
    discrepancies_found: int = 0
    # The first LISTED_DISCREPANCIES, each with the heal chosen (and sent, with auto-heal).
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    fixes: int = 0  # corrective changes sent (events published, links removed)
    requests: dict[str, int] = Field(default_factory=dict)  # side -> requests made
    notes: list[str] = Field(default_factory=list)  # what a person should know of the run
    error: str | None = None


class ReconcileSchedule(BaseModel):
    """How often the reconciler runs an integration by itself, and what the run does."""

    interval_s: int = Field(ge=1)
    auto_heal: bool = False
    enabled: bool = True
    on_missing: MissingPolicy = MissingPolicy.REPORT
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = None


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ReconcileStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # -- runs --------------------------------------------------------------------------------
    async def save(self, run: ReconcileRun) -> None:
        await self.redis.set(
            keys.reconcile_run(run.tenant, run.id), run.model_dump_json().encode(), ex=RUN_TTL_S
        )

    async def get(self, tenant: str, run_id: str) -> ReconcileRun | None:
        raw = await self.redis.get(keys.reconcile_run(tenant, run_id))
        return ReconcileRun.model_validate_json(raw) if raw is not None else None

    async def request(self, run: ReconcileRun) -> None:
        """Queue a run for the integration's reconciler, and list it in the history."""
        t, score = run.tenant, run.requested_at.timestamp()
        runs = keys.reconcile_runs(t, run.integration)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.reconcile_run(t, run.id), run.model_dump_json().encode(), ex=RUN_TTL_S)
            pipe.zadd(runs, {run.id: score})
            pipe.zremrangebyrank(runs, 0, -HISTORY_KEPT - 1)
            pipe.lpush(keys.reconcile_queue(t, run.integration), run.id)
            await pipe.execute()

    async def next_request(self, tenant: str, integration: str) -> ReconcileRun | None:
        """The oldest queued run of the integration (taken off the queue), if any."""
        while True:
            raw = await self.redis.rpop(keys.reconcile_queue(tenant, integration))
            if not isinstance(raw, bytes | str):
                return None
            run = await self.get(tenant, _s(raw))
            if run is not None and run.status is RunStatus.QUEUED:
                return run

    async def history(self, tenant: str, integration: str, limit: int = 20) -> list[ReconcileRun]:
        ids = await self.redis.zrevrange(keys.reconcile_runs(tenant, integration), 0, limit - 1)
        if not ids:
            return []
        raws = await self.redis.mget(
            [keys.reconcile_run(tenant, _s(i)) for i in ids if isinstance(i, bytes | str)]
        )
        return [ReconcileRun.model_validate_json(r) for r in raws if r is not None]

    # -- schedules -------------------------------------------------------------------------------
    async def schedule(self, tenant: str, integration: str) -> ReconcileSchedule | None:
        raw = await self.redis.get(keys.reconcile_schedule(tenant, integration))
        return ReconcileSchedule.model_validate_json(raw) if raw is not None else None

    async def set_schedule(
        self, tenant: str, integration: str, schedule: ReconcileSchedule
    ) -> None:
        await self.redis.set(
            keys.reconcile_schedule(tenant, integration), schedule.model_dump_json().encode()
        )

    async def last_scheduled(self, tenant: str, integration: str) -> datetime | None:
        return await self._time(keys.reconcile_scheduled(tenant, integration))

    async def set_last_scheduled(self, tenant: str, integration: str, at: datetime) -> None:
        await self.redis.set(keys.reconcile_scheduled(tenant, integration), at.isoformat())

    # -- the polling fallback's position ----------------------------------------------------------
    async def watermark(self, tenant: str, side: str) -> datetime | None:
        return await self._time(keys.reconcile_watermark(tenant, side))

    async def set_watermark(self, tenant: str, side: str, at: datetime) -> None:
        await self.redis.set(keys.reconcile_watermark(tenant, side), at.astimezone(UTC).isoformat())

    async def _time(self, key: str) -> datetime | None:
        raw = await self.redis.get(key)
        return datetime.fromisoformat(_s(raw)) if raw is not None else None
