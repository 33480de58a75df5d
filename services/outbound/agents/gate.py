"""sync.inbound -> gate -> sync.changes

A message the gate cannot process (undecodable, a bug, a refresh the connector cannot make,
a change too large to produce) goes to the quarantine before it is acknowledged; Redis or the
broker being away is waited out (`outbound.durable`)."""

from __future__ import annotations

import logging

import faust

from outbound.app import app, ctx, inbound_topic, produce, quarantine, register
from outbound.durable import until_done
from outbound.gate import Gate
from outbound.lanes import Lanes
from outbound.metrics import GATE_EVENTS, STAGE_ERRORS
from outbound.quarantine import of_event
from runtime import tracing
from syncmodel import codec, topics
from syncmodel.events import ChangeEvent
from syncstate.quarantine import Stage

log = logging.getLogger(__name__)
gate = Gate(ctx)


async def handle_event(message: faust.EventT[bytes]) -> None:
    try:
        event = codec.decode(ChangeEvent, message.value)
        await handle(event, message.headers)
    except Exception as exc:
        STAGE_ERRORS.labels("gate").inc()
        log.exception("gate failed; the message goes to the quarantine")
        await quarantine.put(Stage.GATE, of_event(message), exc)


lanes = register(Lanes("gate", handle_event))


# One agent; its partitions are handled at once, each in order (`outbound.lanes`).
@app.agent(inbound_topic, concurrency=1)  # >1 can commit past unprocessed events (faust #606)
async def gate_agent(stream: faust.StreamT[bytes]) -> None:
    await lanes.run(stream)


async def handle(event: ChangeEvent, headers: tracing.Headers = None) -> None:
    side = ctx.config.side(event.integration_id)
    with tracing.stage(
        "gate",
        headers,
        integration_id=event.integration_id,
        integration_type=side.type.value if side else None,
        direction=tracing.direction(event.integration_id == ctx.config.platform.id),
        external_id=event.external_id,
    ) as span:
        result = await until_done(lambda: gate.process(event), "gate")
        GATE_EVENTS.labels(event.integration_id, result.reason).inc()
        if result.linked is not None:
            incident = result.linked.platform_incident_id
            tracing.set_attributes(span, incident_id=incident)
            key = topics.incident_key(event.tenant, incident)
            value, headers = codec.encode(result.linked), tracing.kafka_headers()
            # Durable before the delivery is marked done.
            await until_done(lambda: produce(topics.CHANGES, key, value, headers), "gate.publish")
        # What the gate learnt, then the dedupe mark: one round trip, once published.
        await until_done(lambda: gate.finish(event, result), "gate.finish")
        log.info(
            "gate",
            extra={
                "event_id": event.event_id,
                "integration": event.integration_id,
                "external_id": event.external_id,
                "decision": result.reason,
            },
        )
