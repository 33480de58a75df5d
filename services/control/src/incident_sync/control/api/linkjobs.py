"""Linking what exists in bulk: `POST .../integrations/{name}/link-jobs` asks for a job that
matches the platform's existing incidents with the integration's existing records (by the
correlation field, a reference written in a field, or the title) and, unless it is a dry run,
links the pairs; `GET .../link-jobs/{job_id}` shows it.

The job is queued in Redis (`syncstate.linkjobs`); the reconciler holding the integration's
lease takes it within a tick, lists both sides on the real tools and records the plan, the
progress counts and the outcome on the same record (`im integration link --auto` waits for it).
Each link the job makes is audited (`integration.link`) by the reconciler, as the single link's
is here.
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
from incident_sync.syncmodel.matching import By, Initial
from incident_sync.syncstate.linkjobs import LinkJob, LinkJobStore


class LinkJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: By = Field(
        description="correlation: the record holds the incident's id; reference: either "
        "names the other (its reference or id) in a field; title: the same normalised title, "
        "made within two hours of each other"
    )
    since: jobs.Since = Field(
        jobs.DEFAULT_SINCE,
        description="what is matched: made or changed this long ago at most; seconds, or "
        "like 12h, 30d (longer than 3650d is taken as 3650d)",
    )
    dry_run: bool = Field(False, description="plan only: list the pairs, link nothing")
    initial: Initial | None = Field(
        None,
        description="who wins each field at first link, within field ownership: platform, "
        "external, or newer (the side changed last); default: the record is read and the "
        "usual rules decide, as for a single link",
    )

    @field_validator("since")
    @classmethod
    def _since(cls, value: int | str) -> int:
        return jobs.since_s(value)


def _store(call: Call) -> LinkJobStore:
    return LinkJobStore(call.services.redis)


def _lists_records(tool_type: str) -> bool:
    """Whether the tool's connector lists its existing records (`ChangeFeed.recent`)."""
    spec = REGISTRY.traits(tool_type)
    return spec is not None and issubclass(spec.connector, ChangeFeed)


async def request_job(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    tool_type = str(stored.config.get("type", ""))
    if not _lists_records(tool_type):
        raise ApiError(
            409, "conflict", f"{call.name} ({tool_type}) cannot list its existing records"
        )
    if await call.services.store.platform(call.tenant) is None:
        raise not_found(f"a platform connection for tenant {call.tenant}")
    body: LinkJobRequest = call.body
    job = LinkJob(
        tenant=call.tenant,
        integration=call.name,
        by=body.by,
        since_s=jobs.since_s(body.since),
        dry_run=body.dry_run,
        initial=body.initial,
        requested_by=jobs.requester(call),
    )
    await _store(call).request(job)
    return json_response(job.model_dump(mode="json"), status=202)


async def get_job(call: Call) -> web.StreamResponse:
    return await jobs.get_job(call, _store(call), "link job")
