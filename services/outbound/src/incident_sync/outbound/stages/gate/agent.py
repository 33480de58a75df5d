"""sync.inbound -> gate -> sync.changes

A message the gate cannot process (undecodable, a bug, a refresh the connector cannot make,
a change too large to produce) goes to the quarantine before it is acknowledged; Redis or the
broker being away is waited out (`outbound.durable`); a refresh whose read the tool could not
answer now waits on the retry ladder and comes back (`outbound.stages.gate.reread`)."""

from __future__ import annotations

import logging

import faust

from incident_sync.connectors.base import ToolError
from incident_sync.outbound import timeline
from incident_sync.outbound.app import (
    app,
    consumed,
    ctx,
    observations_topic,
    produce,
    quarantine,
    register,
)
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.lanes import Lanes
from incident_sync.outbound.metrics import GATE_EVENTS, STAGE_ERRORS
from incident_sync.outbound.quarantine import of_event
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.outbound.stages.gate import reread
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import ChangeEvent
from incident_sync.syncstate.quarantine import Stage

log = logging.getLogger(__name__)
gate = Gate(ctx)
policy = DeliverySettings().policy()  # the delivery's ladder: its delays and delayed topics


async def handle_event(message: faust.EventT[bytes]) -> None:
    event: ChangeEvent | None = None
    try:
        event = codec.decode(ChangeEvent, message.value)
        await handle(event, consumed(message))
    except ToolError as exc:  # raised by a re-read, so the event was decoded
        if event is None or not await read_later(message, event, exc):
            STAGE_ERRORS.labels("gate").inc()
            log.error("the record could not be read; the event goes to the quarantine")
            await quarantine.put(Stage.GATE, of_event(message), exc)
            if event is not None:
                await quarantined(event, exc)
    except Exception as exc:
        STAGE_ERRORS.labels("gate").inc()
        log.exception("gate failed; the message goes to the quarantine")
        await quarantine.put(Stage.GATE, of_event(message), exc)
        if event is not None:
            await quarantined(event, exc)


async def quarantined(event: ChangeEvent, exc: BaseException) -> None:
    """On the timeline of the incident the event names without a read: the platform's own
    record, or the incident a tool's record claims."""
    platform = event.integration_id == ctx.config.platform.id
    incident = event.external_id if platform else event.platform_incident_id
    await timeline.quarantined(
        ctx,
        event.tenant,
        incident,
        event.integration_id,
        "gate",
        exc,
        fields=tuple(event.changes),
        message_id=event.delivery_id,
    )


async def read_later(message: faust.EventT[bytes], event: ChangeEvent, exc: ToolError) -> bool:
    """Put a refresh the tool could not answer now on the retry ladder (False: not worth
    trying again)."""
    original = of_event(message)
    plan = reread.later(original, exc, policy)
    if plan is None:
        return False
    topic, headers, wait_s = plan
    await until_done(
        lambda: produce(topic, original.key, original.value, headers), "gate.read_later"
    )
    GATE_EVENTS.labels(event.integration_id, "read_later").inc()
    log.warning(
        "the record could not be read now; the event waits and comes back",
        extra={
            "event_id": event.event_id,
            "integration": event.integration_id,
            "external_id": event.external_id,
            "attempt": reread.attempt(original.headers),
            "retry_in_s": round(wait_s, 3),
            "error": str(exc),
        },
    )
    return True


lanes = register(Lanes("gate", handle_event))


# One agent; its partitions are handled at once, each in order (`outbound.lanes`).
@app.agent(observations_topic, concurrency=1)  # >1 can commit past unprocessed events (faust #606)
async def gate_agent(stream: faust.StreamT[bytes]) -> None:
    await lanes.run(stream)


async def handle(event: ChangeEvent, message: tracing.Consumed) -> None:
    side = ctx.config.side(event.integration_id)
    with tracing.stage(
        "gate",
        message=message,
        integration_id=event.integration_id,
        integration_type=side.type if side else None,
        direction=tracing.direction(event.integration_id == ctx.config.platform.id),
        external_id=event.external_id,
    ) as span:
        result = await until_done(lambda: gate.process(event), "gate")
        GATE_EVENTS.labels(event.integration_id, result.reason).inc()
        if result.linked is not None:
            incident = result.linked.platform_incident_id
            tracing.set_attributes(span, incident_id=incident)
            key = topics.incident_key(event.tenant, incident)
            value = codec.encode(result.linked)
            with tracing.sending(topics.LINKED, key):
                headers = tracing.kafka_headers()
                # Durable before the delivery is marked done.
                await until_done(
                    lambda: produce(topics.LINKED, key, value, headers), "gate.publish"
                )
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
