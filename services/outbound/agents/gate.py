"""sync.inbound -> gate -> sync.changes"""

from __future__ import annotations

import logging

import faust

from outbound.app import app, changes_topic, ctx, inbound_topic, register
from outbound.durable import until_done
from outbound.gate import Gate
from outbound.lanes import Lanes
from outbound.metrics import GATE_EVENTS, STAGE_ERRORS
from runtime import tracing
from syncmodel import codec, topics
from syncmodel.events import ChangeEvent

log = logging.getLogger(__name__)
gate = Gate(ctx)


async def handle_event(message: faust.EventT[bytes]) -> None:
    try:
        event = codec.decode(ChangeEvent, message.value)
    except ValueError:
        STAGE_ERRORS.labels("gate").inc()
        log.exception("undecodable event on %s dropped", topics.INBOUND)
        return
    try:
        await handle(event, message.headers)
    except Exception:
        STAGE_ERRORS.labels("gate").inc()
        log.exception("gate failed", extra={"event_id": event.event_id})


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
            sent = await changes_topic.send(
                key=key, value=codec.encode(result.linked), headers=tracing.kafka_headers()
            )
            await sent  # durable before the delivery is marked done
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
