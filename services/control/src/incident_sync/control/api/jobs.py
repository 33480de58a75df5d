"""What the job routes share (`linkjobs`, `backfill`): how far back a job looks, who asked,
and reading one job of an integration back."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.reconcile import INTERVAL_PATTERN, MAX_INTERVAL_S, seconds
from incident_sync.control.api.routing import Call
from incident_sync.syncstate.jobs import JobStore, Requester

DEFAULT_SINCE = "30d"
MAX_SINCE_S = 3650 * 86_400  # ten years: older than any tool's records, within datetime

Since = (
    Annotated[int, Field(ge=1, le=MAX_INTERVAL_S)] | Annotated[str, Field(pattern=INTERVAL_PATTERN)]
)


def since_s(value: int | str) -> int:
    """Seconds; longer ago than any tool's records is all of them (and keeps a date in range)."""
    return min(seconds(value), MAX_SINCE_S)


def requester(call: Call) -> Requester:
    subject = call.subject
    return Requester(
        id=subject.id, name=subject.name, role=subject.role.value if subject.role else ""
    )


async def get_job(call: Call, store: JobStore[Any], what: str) -> web.StreamResponse:
    """`GET .../{kind}-jobs/{job_id}`: the job, if it is this integration's."""
    job = await store.get(call.tenant, call.params["job_id"])
    if job is None or job.integration != call.name:
        raise not_found(f"{what} {call.params['job_id']} of {call.tenant}/{call.name}")
    return json_response(job.model_dump(mode="json"))
