"""Link jobs (`im integration link --auto`): what the control API asks of the reconciler and
what the reconciler reports back, in Redis, as reconcile runs are (`syncstate.reconcile`).

A job asked for is saved `queued` and its id pushed on the integration's queue; the reconciler
holding the integration's lease takes it, marks it `running`, saves the plan (pairs, ambiguous
candidates, unmatched items) and, unless it is a dry run, the progress counts as it links,
then the outcome (`done` or `failed`). Keys: `is:{tenant}:linkjob:{id}` (the record, JSON,
kept `JOB_TTL_S`), `is:{tenant}:linkjobs:{integration}` (sorted set of job ids by request
time, the newest `HISTORY_KEPT`: what a reconciler taking the integration over checks for a
job its predecessor left `running`), `is:{tenant}:linkjobs:queue:{integration}` (ids not
taken yet).
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from incident_sync.syncmodel.events import utcnow
from incident_sync.syncmodel.matching import By, Initial
from incident_sync.syncstate import keys

JOB_TTL_S: Final = 30 * 86_400
HISTORY_KEPT: Final = 200
LISTED: Final = 1_000  # unmatched items listed in full per side (all are counted)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


PairResult = Literal["planned", "linked", "unchanged", "taken", "failed"]


class PlannedPair(BaseModel):
    """One pair the plan found, and (once the job got to it) what linking it did."""

    incident: str
    incident_reference: str | None = None
    record: str = Field(description="the tool's id of the record (the one links name)")
    record_reference: str | None = Field(None, description="as its users know it")
    title: str | None = Field(None, description="the incident's")
    by: By
    incident_changed: datetime | None = None  # as listed (what `--initial newer` compares)
    record_changed: datetime | None = None
    result: PairResult = "planned"
    event_id: str | None = Field(None, description="the sync of the pair queued (linked)")
    error: str | None = None


class AmbiguousItem(BaseModel):
    """An incident (or record) with several candidates on the other side, or sharing its only
    one: listed, never linked."""

    side: Literal["incident", "record"]
    id: str
    reference: str | None = None
    candidates: list[str]


class LinkCounts(BaseModel):
    planned: int = 0  # pairs in the plan
    linked: int = 0
    unchanged: int = 0  # linked already when the job got to it
    ambiguous: int = 0  # incidents and records with more than one candidate
    unmatched: int = 0  # incidents and records with none
    already_linked: int = 0  # left out: linked before the job (a rerun finds these)
    errors: int = 0  # pairs not linked: taken meanwhile, a failed write or sync
    done: int = 0  # pairs handled so far (progress)


class Requester(BaseModel):
    """Who asked (the token), named in each link's audit entry."""

    id: str
    name: str
    role: str


class LinkJob(BaseModel):
    id: str = Field(default_factory=lambda: "lnk-" + os.urandom(6).hex())
    tenant: str = "default"
    integration: str
    by: By
    since_s: int = Field(description="what is matched: made or changed this many seconds ago")
    dry_run: bool = False
    # Who wins each field at first link; None: the pair's first sync is a refresh of the
    # record (of the incident for an outbound-only integration), the usual rules deciding.
    initial: Initial | None = None
    requested_by: Requester | None = None
    status: JobStatus = JobStatus.QUEUED
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    worker: str | None = None
    counts: LinkCounts = Field(default_factory=LinkCounts)
    pairs: list[PlannedPair] = Field(default_factory=list)
    ambiguous: list[AmbiguousItem] = Field(default_factory=list)
    unmatched_incidents: list[str] = Field(default_factory=list)  # the first LISTED
    unmatched_records: list[str] = Field(default_factory=list)  # the first LISTED
    listed: dict[str, int] = Field(default_factory=dict)  # side -> items it listed
    requests: dict[str, int] = Field(default_factory=dict)  # side -> requests made
    errors: list[str] = Field(default_factory=list)
    error: str | None = None  # why a failed job failed


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class LinkJobStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def save(self, job: LinkJob) -> None:
        await self.redis.set(
            keys.link_job(job.tenant, job.id), job.model_dump_json().encode(), ex=JOB_TTL_S
        )

    async def get(self, tenant: str, job_id: str) -> LinkJob | None:
        raw = await self.redis.get(keys.link_job(tenant, job_id))
        return LinkJob.model_validate_json(raw) if raw is not None else None

    async def request(self, job: LinkJob) -> None:
        """Save the job `queued` and queue it for the integration's reconciler."""
        history = keys.link_jobs(job.tenant, job.integration)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(
                keys.link_job(job.tenant, job.id), job.model_dump_json().encode(), ex=JOB_TTL_S
            )
            pipe.zadd(history, {job.id: job.requested_at.timestamp()})
            pipe.zremrangebyrank(history, 0, -HISTORY_KEPT - 1)
            pipe.lpush(keys.link_job_queue(job.tenant, job.integration), job.id)
            await pipe.execute()

    async def history(self, tenant: str, integration: str, limit: int = 20) -> list[LinkJob]:
        """The integration's latest jobs, newest first."""
        ids = await self.redis.zrevrange(keys.link_jobs(tenant, integration), 0, limit - 1)
        wanted = [keys.link_job(tenant, _s(i)) for i in ids if isinstance(i, bytes | str)]
        raws = await self.redis.mget(wanted) if wanted else []
        return [LinkJob.model_validate_json(r) for r in raws if r is not None]

    async def next_request(self, tenant: str, integration: str) -> LinkJob | None:
        """The oldest queued job of the integration (taken off the queue), if any."""
        while True:
            raw = await self.redis.rpop(keys.link_job_queue(tenant, integration))
            if not isinstance(raw, bytes | str):
                return None
            job = await self.get(tenant, _s(raw))
            if job is not None and job.status is JobStatus.QUEUED:
                return job
