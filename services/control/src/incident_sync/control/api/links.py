"""Linking what exists: an operator ties one platform incident to one record of an
integration that was made before (or beside) the pipeline, `POST .../integrations/{name}/links`.

Both are read first, each through its own connector: the incident on the platform, the record
by the reference its users know (`Connector.resolve`: INC0010001, OPS-12, a PagerDuty or
Datadog id), so a link never names what does not exist. The link is written both ways as the
pipeline writes its own (`syncstate.links.link_pair`), never over another link of either side,
and then the pair is synced once: a manual `refresh` of the record (or, for an outbound-only
integration, whose records are never read, of the incident), so the gate reads it and the
usual ownership and conflict rules decide which values win. Relinking the same pair changes
nothing: no write, no audit entry, no sync.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field

from incident_sync.connectors.base import RecordState
from incident_sync.connectors.lookup import resolve
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import audit, existing
from incident_sync.control.api.lookups import read_record
from incident_sync.control.api.routing import Call
from incident_sync.control.api.sync import is_outbound_only, publish_event
from incident_sync.controlstore.records import StoredSide
from incident_sync.runtime import tracing
from incident_sync.syncmodel import firstsync, ids
from incident_sync.syncstate import links
from incident_sync.syncstate.timeline import Entry, Kind


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident: str = Field(pattern=ids.PATTERN, description="the platform incident's id")
    record: str = Field(
        pattern=ids.PATTERN,
        description="the record as its users know it: a ServiceNow number (INC0010001), a "
        "Jira key (OPS-12), a PagerDuty or Datadog id; or the tool's id of it",
    )


class LinkResult(BaseModel):
    incident: str
    record: str = Field(description="the reference given")
    record_id: str = Field(description="the tool's id of the record (the one links name)")
    result: Literal["linked", "unchanged"]
    event_id: str | None = Field(None, description="the sync of the pair queued (linked only)")


async def _platform(call: Call) -> StoredSide:
    stored = await call.services.store.platform(call.tenant)
    if stored is None:
        raise not_found(f"a platform connection for tenant {call.tenant}")
    return stored


async def _incident_exists(call: Call, platform: StoredSide, incident: str) -> None:
    missing = f"the platform incident {incident!r} ({platform.name})"
    await read_record(call, platform, incident, missing=missing)


async def _record(call: Call, stored: StoredSide, reference: str) -> RecordState:
    missing = f"the record {reference!r} of {call.tenant}/{call.name}"
    return await read_record(call, stored, reference, read=resolve, missing=missing)


def _taken(call: Call, request: LinkRequest, record_id: str, outcome: links.PairLink) -> ApiError:
    held = []
    if outcome.record_incident is not None:
        held.append(f"the record {request.record} is linked to incident {outcome.record_incident}")
    if outcome.incident_record is not None:
        held.append(
            f"incident {request.incident} is linked to record {outcome.incident_record} of "
            f"{call.name}"
        )
    return ApiError(409, "conflict", "; ".join(held) + " (a link is never moved: unlink it first)")


async def _recorded(call: Call, request: LinkRequest, record_id: str) -> None:
    """The link on the incident's timeline (and the reference given, when it is no id)."""
    timeline = call.services.timeline
    detail = {"record": record_id, "reference": request.record, "by": call.subject.name}
    entry = Entry(Kind.LINKED, (call.name,), (), "operator", tracing.trace_id(), detail)
    async with call.services.redis.pipeline(transaction=False) as pipe:
        timeline.q_add(pipe, call.tenant, request.incident, entry)
        if request.record != record_id:
            timeline.q_reference(pipe, call.tenant, request.record, request.incident)
        await pipe.execute()


async def link_record(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    request: LinkRequest = call.body
    platform = await _platform(call)
    await _incident_exists(call, platform, request.incident)
    record_id = (await _record(call, stored, request.record)).external_id
    outcome = await links.link_pair(
        call.services.redis, call.tenant, request.incident, call.name, record_id
    )
    if outcome.result == "taken":
        raise _taken(call, request, record_id, outcome)
    answer = LinkResult(
        incident=request.incident, record=request.record, record_id=record_id, result="linked"
    )
    if outcome.result == "unchanged":
        answer.result = "unchanged"
        return json_response(answer.model_dump(mode="json"), status=200)
    await audit(
        call,
        call.tenant,
        "integration.link",
        {"kind": "integration", "name": call.name},
        after={"incident": request.incident, "record": request.record, "record_id": record_id},
    )
    await _recorded(call, request, record_id)
    # The sync of the pair: the record read where its tool is a source, else the incident.
    event = firstsync.first_sync(
        call.tenant,
        platform=platform.name,
        integration=call.name,
        takes_in=not is_outbound_only(stored),
        incident=request.incident,
        record_id=record_id,
        actor=call.subject.name,
    )
    try:
        answer.event_id = await publish_event(call, event)
    except (KafkaError, OSError, TimeoutError) as exc:  # linked; the sync can be asked again
        again = (
            f"im sync incident {request.incident}"
            if event.integration_id == platform.name
            else f"im integration sync {call.name} --record {record_id}"
        )
        raise ApiError(
            503,
            "unavailable",
            f"linked, but its sync could not be queued ({type(exc).__name__}): run `{again}`",
        ) from None
    return json_response(answer.model_dump(mode="json"), status=201)
