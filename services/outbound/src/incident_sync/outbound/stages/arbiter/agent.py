"""sync.changes -> arbiter -> sync.outbound

A message the arbiter cannot process (undecodable, a bug, a command too large to produce)
goes to the quarantine before it is acknowledged; Redis or the broker being away is waited
out (`outbound.durable`)."""

from __future__ import annotations

import logging

import faust

from incident_sync.outbound import timeline
from incident_sync.outbound.app import (
    app,
    consumed,
    ctx,
    linked_topic,
    produce,
    quarantine,
    register,
)
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.lanes import Lanes
from incident_sync.outbound.metrics import COMMANDS_PLANNED, STAGE_ERRORS
from incident_sync.outbound.quarantine import of_event
from incident_sync.outbound.stages.arbiter import record
from incident_sync.outbound.stages.arbiter.arbiter import Arbiter
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import LinkedEvent
from incident_sync.syncstate.quarantine import Stage

log = logging.getLogger(__name__)
arbiter = Arbiter(ctx)


async def handle_event(event: faust.EventT[bytes]) -> None:
    try:
        await handle(event)
    except Exception as exc:
        STAGE_ERRORS.labels("arbiter").inc()
        log.exception("arbiter failed; the message goes to the quarantine")
        await quarantine.put(Stage.ARBITER, of_event(event), exc)
        try:
            linked = codec.decode(LinkedEvent, event.value)
        except Exception:  # noqa: BLE001 - undecodable: quarantined, no incident to name
            return
        source = linked.event
        await timeline.quarantined(
            ctx,
            source.tenant,
            linked.platform_incident_id,
            source.integration_id,
            "arbiter",
            exc,
            fields=tuple(source.changes),
            message_id=source.event_id,
        )


async def handle(event: faust.EventT[bytes]) -> None:
    with tracing.stage("arbiter", message=consumed(event)) as span:
        linked = codec.decode(LinkedEvent, event.value)
        result = await until_done(lambda: arbiter.process(linked), "arbiter")
        source = ctx.config.side(linked.event.integration_id)
        tracing.set_attributes(
            span,
            integration_id=linked.event.integration_id,
            integration_type=source.type if source else None,
            direction=tracing.direction(linked.event.integration_id == ctx.config.platform.id),
            incident_id=linked.platform_incident_id,
            external_id=linked.event.external_id,
        )
        commands = result.commands
        for cmd in commands:
            target = cmd.target_external_id or f"new:{cmd.platform_incident_id}"
            key = topics.target_key(cmd.tenant, cmd.target_integration_id, target)
            value = codec.encode(cmd)
            with tracing.sending(topics.COMMANDS, key):
                headers = tracing.kafka_headers()

                async def send(
                    key: bytes = key,
                    value: bytes = value,
                    headers: list[tuple[str, bytes]] = headers,
                ) -> None:
                    await produce(topics.COMMANDS, key, value, headers)

                await until_done(send, "arbiter.publish")
            COMMANDS_PLANNED.labels(cmd.target_integration_id).inc()
        # The incident's timeline: written with the arbiter's round trip on its main path (all
        # but what was planned from its answer); else here, once the commands are durable.
        recorded = result.later if result.recorded else record.entries(ctx, linked, result)
        if recorded:
            tenant, pid = linked.event.tenant, linked.platform_incident_id
            await until_done(lambda: ctx.timeline.add(tenant, pid, *recorded), "arbiter.timeline")
        log.info(
            "arbiter",
            extra={
                "event_id": linked.event.event_id,
                "incident": linked.platform_incident_id,
                "commands": [c.target_integration_id for c in commands],
                "conflicts": [c.id for c in result.conflicts],
                "parked": result.parked,
            },
        )


lanes = register(Lanes("arbiter", handle_event))


# One agent; its partitions are handled at once, each in order (`outbound.lanes`): all of an
# incident's changes share a partition, so its read-decide-write needs no lock.
@app.agent(linked_topic, concurrency=1)
async def arbiter_agent(stream: faust.StreamT[bytes]) -> None:
    await lanes.run(stream)
