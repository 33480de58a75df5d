"""An incident's timeline (`syncstate.timeline`): `GET /tenants/{t}/incidents/{ref}/timeline`.

`ref` names the incident in any way people know it, resolved in this order (one round trip):
1. a platform incident id: one that has a timeline or links;
2. the id of a linked record in one of the tenant's integrations (a Jira issue id or key as
   the links name it, a PagerDuty or Datadog id, a ServiceNow sys_id): its `link:` key;
3. a record's reference as its users know it (a ServiceNow number, INC0010001), which the
   pipeline keeps beside the timeline when it creates the record, passes one of its changes
   or an operator links it by that reference (`keys.timeline_ref`, as long as the timeline).
Nothing else is asked (no tool is called): a reference the pipeline never saw is a 404.

The policy decides with the incident's lead (the platform incident's `assignee` as the
pipeline last saw it), as for conflicts: an incident commander reads the incidents they lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from incident_sync.control.api.context import Services
from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.routing import Call
from incident_sync.syncstate import keys
from incident_sync.syncstate.timeline import Detail


class TimelineQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(
        None, ge=1, le=100_000, description="the newest entries only (default: all kept)"
    )


class TimelineEntry(BaseModel):
    at: datetime = Field(description="when Redis took the entry (its stream id)")
    id: str = Field(description="the entry's stream id: entries are in this order")
    kind: str = Field(
        description="received, dropped, skipped, conflict_detected, conflict_parked, "
        "conflict_resolved, planned, written, created, deferred, held, retried, "
        "dead_lettered, quarantined, healed, linked, unlinked"
    )
    sides: list[str] = Field(description="the side (or sides) the decision is about")
    fields: list[str] = Field(description="the canonical fields, where it is per field")
    rule: str | None = Field(None, description="the rule or reason that decided it")
    trace_id: str | None = None
    detail: dict[str, Detail] = Field(
        description="ids, HTTP status, duration and the like (texts cut short; no values)"
    )


class IncidentTimeline(BaseModel):
    incident: str = Field(description="the platform incident")
    ref: str = Field(description="the reference asked for")
    resolved_by: str = Field(
        description="how the reference was read: incident, link:<integration>, reference"
    )
    entries: list[TimelineEntry] = Field(description="oldest first")


async def resolve(services: Services, tenant: str, ref: str) -> tuple[str, str] | None:
    """The incident `ref` names, and how it was found (see the module), else None."""
    integrations = sorted(s.name for s in await services.store.integrations(tenant))
    async with services.redis.pipeline(transaction=False) as pipe:
        pipe.exists(keys.timeline(tenant, ref), keys.links(tenant, ref))
        for name in integrations:
            pipe.get(keys.link(tenant, name, ref))
        pipe.get(keys.timeline_ref(tenant, ref))
        answers = await pipe.execute()
    if answers[0]:
        return ref, "incident"
    for name, incident in zip(integrations, answers[1:-1], strict=True):
        if incident is not None:
            return _s(incident), f"link:{name}"
    if answers[-1] is not None:
        return _s(answers[-1]), "reference"
    return None


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _lead(services: Services, tenant: str, incident: str) -> str | None:
    platform = await services.store.platform(tenant)
    if platform is None:
        return None
    raw = await services.redis.hget(keys.state(tenant, platform.name, incident), "assignee")
    return _s(raw) if raw is not None else None


async def timeline_resource(services: Services, params: Mapping[str, str]) -> dict[str, Any]:
    """What the policy knows of the incident: its id and lead (nothing for an unknown ref:
    the tenant-wide roles are decided, and the handler answers 404)."""
    found = await resolve(services, params["tenant"], params["ref"])
    if found is None:
        return {}
    incident = found[0]
    lead = await _lead(services, params["tenant"], incident)
    return {"incident": {"id": incident, "commander": lead, "assignees": [lead] if lead else []}}


async def get_timeline(call: Call) -> web.StreamResponse:
    ref = call.params["ref"]
    found = await resolve(call.services, call.tenant, ref)
    if found is None:
        raise not_found(f"an incident or linked record {ref!r} in tenant {call.tenant}")
    incident, how = found
    limit = call.query.limit if call.query is not None else None
    kept = await call.services.timeline.read(call.tenant, incident, limit=limit)
    entries = [
        TimelineEntry(
            at=e.at,
            id=e.id,
            kind=e.kind.value,
            sides=list(e.sides),
            fields=list(e.fields),
            rule=e.rule,
            trace_id=e.trace_id,
            detail=dict(e.detail),
        )
        for e in kept
        if e.at is not None and e.id is not None
    ]
    answer = IncidentTimeline(incident=incident, ref=ref, resolved_by=how, entries=entries)
    return json_response(answer.model_dump(mode="json"))
