"""Backfill: `POST .../integrations/{name}/backfill-jobs` asks for a job that gives every
existing platform incident the integration would have synced (made or changed within
`since`, matching its trigger and the status filter, without a record there) its record,
through the pipeline; `GET .../backfill-jobs/{job_id}` shows it.

The job is queued in Redis (`syncstate.backfilljobs`); the reconciler holding the
integration's lease takes it within a tick, lists the platform's incidents, records the
selection, publishes one refresh per incident delivered to the integration only, and records
each incident's result as the pipeline links it (`im integration backfill` waits for it).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from incident_sync.connectors.capabilities import ChangeFeed
from incident_sync.connectors.registry import REGISTRY
from incident_sync.control.api import jobs
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import existing
from incident_sync.control.api.routing import Call
from incident_sync.syncmodel.backfill import StatusFilter
from incident_sync.syncmodel.fields import Direction
from incident_sync.syncstate.backfilljobs import BackfillJob, BackfillJobStore


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: jobs.Since = Field(
        jobs.DEFAULT_SINCE,
        description="which incidents: made or changed this long ago at most; seconds, or "
        "like 12h, 30d (longer than 3650d is taken as 3650d)",
    )
    status: StatusFilter = Field(
        StatusFilter.OPEN, description="open: only open incidents; all: closed ones too"
    )
    dry_run: bool = Field(False, description="list the incidents only, create nothing")

    @field_validator("since")
    @classmethod
    def _since(cls, value: int | str) -> int:
        return jobs.since_s(value)


def _store(call: Call) -> BackfillJobStore:
    return BackfillJobStore(call.services.redis)


async def request_job(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    tool_type = str(stored.config.get("type", ""))
    spec = REGISTRY.traits(tool_type)
    direction = (spec.direction if spec is not None else None) or Direction(
        str(stored.config.get("direction") or Direction.BIDIRECTIONAL)
    )
    if not direction.writes_outbound:
        raise ApiError(409, "conflict", f"{call.name} is {direction.value}: it gets no writes")
    platform = await call.services.store.platform(call.tenant)
    if platform is None:
        raise not_found(f"a platform connection for tenant {call.tenant}")
    platform_spec = REGISTRY.traits(str(platform.config.get("type", "")))
    if platform_spec is None or not issubclass(platform_spec.connector, ChangeFeed):
        raise ApiError(409, "conflict", "the platform cannot list its incidents")
    body: BackfillRequest = call.body
    job = BackfillJob(
        tenant=call.tenant,
        integration=call.name,
        since_s=jobs.since_s(body.since),
        status_filter=body.status,
        dry_run=body.dry_run,
        requested_by=jobs.requester(call),
    )
    await _store(call).request(job)
    return json_response(job.model_dump(mode="json"), status=202)


async def get_job(call: Call) -> web.StreamResponse:
    return await jobs.get_job(call, _store(call), "backfill job")
