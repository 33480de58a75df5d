"""Manual sync through the control API: re-read every linked record of an integration, or
one of them, and push what it holds to the platform and the other linked tools.

Each record becomes a `refresh` change (origin `manual`) on `sync.inbound`, keyed like any
change of that record, so it is applied in order with the record's webhooks; the gate re-reads
the record through its connector. The linked records are the pipeline's links in Redis
(`syncstate.links`). An outbound-only integration's records are never read (its tool is not a
source): syncing the incident itself (`im sync incident ID`) pushes the platform's values.
The sync of one record first asks its tool whether it still exists (404 when it does not); a
sync of every linked record does not (the gate drops a refresh of a record gone, quietly).
"""

from __future__ import annotations

from aiohttp import web
from aiokafka.errors import KafkaError

from incident_sync.connectors.lookup import Found, Lookup
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.lookups import read_record
from incident_sync.control.api.models import SyncedRecord, SyncRequested
from incident_sync.control.api.routing import Call
from incident_sync.control.metrics import MANUAL_SYNCS
from incident_sync.controlstore.records import StoredSide
from incident_sync.syncmodel import codec, firstsync, topics
from incident_sync.syncmodel.events import ChangeEvent
from incident_sync.syncmodel.fields import Direction
from incident_sync.syncmodel.tools import known
from incident_sync.syncstate import links


async def _integration(call: Call) -> StoredSide:
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    if is_outbound_only(stored):
        raise ApiError(
            409,
            "conflict",
            f"{call.name} is outbound-only: its records are never read; sync the incident "
            "instead (im sync incident ID)",
        )
    return stored


async def publish_refresh(call: Call, side: str, record_id: str, incident: str) -> str:
    """Queue a manual `refresh` of one record of `side` (an integration, or the platform
    with the incident as its record) on the observations, keyed like the record's webhooks;
    the event's id. Raises what the producer raises when the broker is away."""
    return await publish_event(
        call, firstsync.refresh(call.tenant, side, record_id, incident, call.subject.name)
    )


async def publish_event(call: Call, event: ChangeEvent) -> str:
    """Publish one change on the observations, keyed and with the headers of the record's
    webhooks; the event's id."""
    key = topics.record_key(event.tenant, event.integration_id, event.external_id)
    headers = [
        ("origin", event.origin.value.encode()),
        ("delivery-id", event.delivery_id.encode()),
        ("integration-id", event.integration_id.encode()),
    ]
    await call.services.publish(topics.OBSERVATIONS, key, codec.encode(event), headers)
    return event.event_id


def is_outbound_only(stored: StoredSide) -> bool:
    """Its records are never read: the tool is not a source (by configuration or type)."""
    direction = stored.config.get("direction", Direction.BIDIRECTIONAL.value)
    traits = known(stored.config["type"])
    return direction == Direction.OUTBOUND.value or (
        traits is not None and traits.direction is Direction.OUTBOUND
    )


async def _publish(call: Call, records: dict[str, str]) -> list[SyncedRecord]:
    dry_run = bool(call.query.dry_run)
    out: list[SyncedRecord] = []
    for record_id, incident in sorted(records.items()):
        if dry_run:
            out.append(SyncedRecord(record_id=record_id, incident_id=incident))
            continue
        try:
            event_id = await publish_refresh(call, call.name, record_id, incident)
        except (KafkaError, OSError, TimeoutError) as exc:  # broker away: say what was queued
            MANUAL_SYNCS.labels(call.name, "unavailable").inc()
            raise ApiError(
                503,
                "unavailable",
                f"{len(out)} of {len(records)} syncs were queued before the broker failed: "
                f"{type(exc).__name__}; retry later",
            ) from None
        MANUAL_SYNCS.labels(call.name, "accepted").inc()
        out.append(SyncedRecord(record_id=record_id, incident_id=incident, event_id=event_id))
    return out


async def _answer(call: Call, synced: list[SyncedRecord]) -> web.StreamResponse:
    dry_run = bool(call.query.dry_run)
    if not dry_run:
        await audit(
            call,
            call.tenant,
            "integration.sync",
            {"kind": "integration", "name": call.name},
            after={"records": [s.record_id for s in synced]},
        )
    answer = SyncRequested(
        integration=call.name, tenant=call.tenant, dry_run=dry_run, records=synced
    )
    return json_response(answer.model_dump(mode="json"), status=200 if dry_run else 202)


async def sync_integration(call: Call) -> web.StreamResponse:
    await _integration(call)
    records = await links.linked_records(call.services.redis, call.tenant, call.name)
    return await _answer(call, await _publish(call, records))


async def _ensure_exists(call: Call, stored: StoredSide, record_id: str) -> None:
    """The linked record must still exist in its tool (one read through its connector)."""

    def count(lookup: Lookup) -> None:
        found = "not_found" if lookup.found is Found.MISSING else lookup.found.value
        MANUAL_SYNCS.labels(call.name, found).inc()

    await read_record(call, stored, record_id, failed=count)


async def sync_record(call: Call) -> web.StreamResponse:
    stored = await _integration(call)
    record_id = call.params["record_id"]  # its shape is checked with the path
    incident = await links.incident_of(call.services.redis, call.tenant, call.name, record_id)
    if incident is None:
        raise not_found(f"a record {record_id} of {call.tenant}/{call.name} linked to an incident")
    await _ensure_exists(call, stored, record_id)
    return await _answer(call, await _publish(call, {record_id: incident}))
