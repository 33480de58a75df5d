"""Conflicts: list, show, and settle the ones parked for manual review.

Settling publishes the resolution as a change on `sync.inbound` (keyed like any change of that
record), so it is applied in order with the incident's other changes: the arbiter unparks the
field and sends the chosen value to every side that accepts it. The record is marked resolved
here at once, with who settled it, and the action is audited.

Incident commanders may see and settle the conflicts of the incidents they lead: the policy is
given the incident's lead (the platform incident's `assignee`, as the pipeline last saw it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError

from incident_sync.control.api.context import Services
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.models import ConflictList
from incident_sync.control.api.routing import Call
from incident_sync.syncmodel import codec, topics
from incident_sync.syncstate import keys
from incident_sync.syncstate.conflicts import (
    ConflictRecord,
    ConflictStatus,
    ConflictStore,
    Resolution,
    resolution_event,
)


def _store(services: Services) -> ConflictStore:
    return ConflictStore(services.redis)


async def _incident(services: Services, tenant: str, record: ConflictRecord) -> dict[str, Any]:
    """What the policy knows of the conflict's incident: its lead, from the pipeline's state."""
    platform = await services.store.platform(tenant)
    lead: str | None = None
    if platform is not None:
        key = keys.state(tenant, platform.config["id"], record.platform_incident_id)
        raw = await services.redis.hget(key, "assignee")
        lead = raw.decode() if isinstance(raw, bytes) else raw
    return {
        "id": record.platform_incident_id,
        "commander": lead,
        "assignees": [lead] if lead else [],
    }


async def conflict_resource(services: Services, params: Mapping[str, str]) -> dict[str, Any]:
    record = await _store(services).get(params["tenant"], params["conflict_id"])
    if record is None:
        return {}
    return {
        "integration": record.integration_id,
        "incident": await _incident(services, params["tenant"], record),
    }


async def list_conflicts(call: Call) -> web.StreamResponse:
    query = call.query
    records = await _store(call.services).list(call.tenant, query.status, limit=query.limit)
    visible = [
        r
        for r in records
        if call.allowed(
            "conflict.read",
            tenant=call.tenant,
            integration=r.integration_id,
            incident=await _incident(call.services, call.tenant, r),
        )
    ]
    return json_response(ConflictList(items=visible).model_dump(mode="json"))


async def _get(call: Call) -> ConflictRecord:
    record = await _store(call.services).get(call.tenant, call.params["conflict_id"])
    if record is None:
        raise not_found(f"conflict {call.params['conflict_id']}")
    return record


async def get_conflict(call: Call) -> web.StreamResponse:
    return json_response((await _get(call)).model_dump(mode="json"))


async def resolve_conflict(call: Call) -> web.StreamResponse:
    record = await _get(call)
    if record.status is not ConflictStatus.PENDING:
        raise ApiError(409, "conflict", f"{record.id} is already resolved ({record.resolution})")
    services = call.services
    platform = await services.store.platform(call.tenant)
    if platform is None:
        raise ApiError(409, "conflict", f"tenant {call.tenant} has no platform connection")
    resolution = Resolution(call.body.resolution)
    event = resolution_event(record, resolution, platform_id=platform.config["id"])
    event = event.model_copy(update={"actor": call.subject.name})
    key = topics.record_key(event.tenant, event.integration_id, event.external_id)
    try:
        await services.publish(
            topics.OBSERVATIONS,
            key,
            codec.encode(event),
            [("origin", event.origin.value.encode()), ("delivery-id", event.delivery_id.encode())],
        )
    except (KafkaError, OSError, TimeoutError) as exc:  # broker away: nothing changed
        raise ApiError(
            503, "unavailable", f"the resolution could not be queued: {type(exc).__name__}"
        ) from None
    winner = {
        Resolution.USE_PLATFORM: record.platform.side,
        Resolution.USE_EXTERNAL: record.external.side,
    }.get(resolution)
    settled = await _store(services).resolve(
        record, resolution, winner=winner, resolver=call.subject.name
    )
    await audit(
        call,
        call.tenant,
        "conflict.resolve",
        {"kind": "conflict", "name": record.id},
        record.model_dump(mode="json"),
        settled.model_dump(mode="json"),
    )
    return json_response(settled.model_dump(mode="json"), status=202)
