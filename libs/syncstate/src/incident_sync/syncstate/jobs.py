"""Jobs the control API asks of the reconciler (`im integration link --auto`, `im integration
backfill`): one record shape and one store for every kind, in Redis, as reconcile runs are
(`syncstate.reconcile`).

A job asked for is saved `queued` and its id pushed on the integration's queue of its kind;
the reconciler holding the integration's lease takes it, marks it `running`, saves its
progress as it goes, then the outcome (`done` or `failed`). Keys, per kind (`link`,
`backfill`): `is:{tenant}:{kind}job:{id}` (the record, JSON, kept `JOB_TTL_S`),
`is:{tenant}:{kind}jobs:{integration}` (sorted set of job ids by request time, the newest
`HISTORY_KEPT`: what a reconciler taking the integration over checks for a job its
predecessor left `running`), `is:{tenant}:{kind}jobs:queue:{integration}` (ids not taken
yet).
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Final, Generic, TypeVar

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys

JOB_TTL_S: Final = 30 * 86_400
HISTORY_KEPT: Final = 200


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


class Requester(BaseModel):
    """Who asked (the token), named in the audit entries the job writes."""

    id: str
    name: str
    role: str


class Job(BaseModel):
    """What every kind of job has: whose, what it looks at, its life and its outcome."""

    id: str = Field(default_factory=lambda: new_job_id("job"))
    tenant: str = "default"
    integration: str
    since_s: int = Field(description="what is looked at: made or changed this many seconds ago")
    dry_run: bool = False
    requested_by: Requester | None = None
    status: JobStatus = JobStatus.QUEUED
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    worker: str | None = None
    listed: dict[str, int] = Field(default_factory=dict)  # side -> items it listed
    requests: dict[str, int] = Field(default_factory=dict)  # side -> requests made
    errors: list[str] = Field(default_factory=list)
    error: str | None = None  # why a failed job failed


def new_job_id(prefix: str) -> str:
    return f"{prefix}-{os.urandom(6).hex()}"


J = TypeVar("J", bound=Job)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class JobStore(Generic[J]):
    """The jobs of one kind (`kind`, a key word) whose records are `model`s."""

    kind: ClassVar[str]
    model: type[J]

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def _key(self, tenant: str, job_id: str) -> str:
        return keys.job(tenant, self.kind, job_id)

    async def save(self, job: J) -> None:
        await self.redis.set(
            self._key(job.tenant, job.id), job.model_dump_json().encode(), ex=JOB_TTL_S
        )

    async def get(self, tenant: str, job_id: str) -> J | None:
        raw = await self.redis.get(self._key(tenant, job_id))
        return self.model.model_validate_json(raw) if raw is not None else None

    async def request(self, job: J) -> None:
        """Save the job `queued` and queue it for the integration's reconciler."""
        history = keys.jobs(job.tenant, self.kind, job.integration)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.tenant, job.id), job.model_dump_json().encode(), ex=JOB_TTL_S)
            pipe.zadd(history, {job.id: job.requested_at.timestamp()})
            pipe.zremrangebyrank(history, 0, -HISTORY_KEPT - 1)
            pipe.lpush(keys.job_queue(job.tenant, self.kind, job.integration), job.id)
            await pipe.execute()

    async def requeue(self, job: J) -> None:
        """Put a job taken before back at the head of its queue (taken next), as it is."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(job.tenant, job.id), job.model_dump_json().encode(), ex=JOB_TTL_S)
            pipe.rpush(keys.job_queue(job.tenant, self.kind, job.integration), job.id)
            await pipe.execute()

    async def history(self, tenant: str, integration: str, limit: int = 20) -> list[J]:
        """The integration's latest jobs, newest first."""
        ids = await self.redis.zrevrange(keys.jobs(tenant, self.kind, integration), 0, limit - 1)
        wanted = [self._key(tenant, _s(i)) for i in ids if isinstance(i, bytes | str)]
        raws = await self.redis.mget(wanted) if wanted else []
        return [self.model.model_validate_json(r) for r in raws if r is not None]

    async def next_request(self, tenant: str, integration: str) -> J | None:
        """The oldest queued job of the integration (taken off the queue), if any; a job put
        back by `requeue` (left `running` by a reconciler that stopped) too."""
        while True:
            raw = await self.redis.rpop(keys.job_queue(tenant, self.kind, integration))
            if not isinstance(raw, bytes | str):
                return None
            job = await self.get(tenant, _s(raw))
            if job is not None and not job.status.finished:
                return job
