"""What every job the reconciler runs for the control API shares (`linker`, `backfiller`):
its life around the work of its kind. `JobRunner.run` marks the job `running`, counts the
requests its work makes per side, and returns the record with its outcome (`done`, or
`failed` with the reason); the work saves its own progress through the job's store."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Generic

from incident_sync.reconciler.sides import REQUESTS
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate.jobs import J, JobStatus, JobStore

log = logging.getLogger("reconciler.jobs")


class JobRunner(Generic[J]):
    store: JobStore[J]
    instance: str

    async def run(self, job: J) -> J:
        """Carry out a job; the returned record says how it went (`done` or `failed`)."""
        clock = time.monotonic()
        requests: Counter[str] = Counter(job.requests)  # a resumed job's go on
        REQUESTS.set(requests)  # this task's own
        job = job.model_copy(
            update={
                "status": JobStatus.RUNNING,
                "started_at": job.started_at or utcnow(),
                "worker": self.instance,
            }
        )
        try:
            job = await self.work(job, requests)
            status, error = JobStatus.DONE, None
        except Exception as exc:
            log.exception("job failed", extra={"job": job.id, "integration": job.integration})
            status, error = JobStatus.FAILED, str(exc) or repr(exc)
        return job.model_copy(
            update={
                "status": status,
                "error": error,
                "finished_at": utcnow(),
                "duration_s": round((job.duration_s or 0.0) + time.monotonic() - clock, 3),
                "requests": dict(requests),
            }
        )

    async def work(self, job: J, requests: Counter[str]) -> J:
        """The job's own work; `requests` counts what it asked of each side so far."""
        raise NotImplementedError
