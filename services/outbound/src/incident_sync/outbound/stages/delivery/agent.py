"""sync.outbound -> delivery -> the tools' APIs (failures -> sync.retry.<n> -> sync.dlq)

One attempt per message. Whatever comes of it is durable before the message counts as done
(faust commits past it only then): written to the tool, parked on a delayed topic, held for a
paused integration, or dead-lettered. The dedupe mark (per command and hop) comes last, so a
crash anywhere before it means the message is processed again, never skipped. A message the
stage cannot process (undecodable, a bug, a request the connector cannot build, a record too
large to produce) goes to the quarantine, not the DLQ: the DLQ is for the tools' answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
from redis.exceptions import RedisError

from incident_sync.connectors import transport
from incident_sync.outbound import timeline
from incident_sync.outbound.app import app, commands_topic, consumed, ctx, quarantine, register
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.lanes import Lanes
from incident_sync.outbound.metrics import DEFERRED, DELIVERIES, PROPAGATION, STAGE_ERRORS
from incident_sync.outbound.quarantine import of_event
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.outbound.stages.delivery import record
from incident_sync.outbound.stages.delivery.delivery import Delivery
from incident_sync.outbound.stages.delivery.ladder import Ladder
from incident_sync.outbound.stages.delivery.throttle import Throttle
from incident_sync.outbound.stages.hold.hold import Hold
from incident_sync.outbound.stats import q_record_delivery
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand, utcnow
from incident_sync.syncstate.dlq import DlqIndex
from incident_sync.syncstate.quarantine import Stage
from incident_sync.syncstate.timeline import Entry

log = logging.getLogger(__name__)
delivery_settings = DeliverySettings()
policy = delivery_settings.policy()
# Produced to by this agent; consumed by the retry relay (plain aiokafka) and operators.
produced = {
    name: app.topic(name, internal=False) for name in (*policy.topics, topics.DLQ, topics.COMMANDS)
}


async def publish(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    sent = await produced[topic].send(key=key, value=value, headers=headers)
    await sent  # acks=all: durable before the caller moves on


# Reads the config the worker has now (reloaded while running).
throttle = Throttle(
    ctx.store.redis, ctx.settings.redis_url, delivery_settings, lambda i: ctx.config.side(i)
)
delivery = Delivery(ctx, throttle)
hold = Hold(ctx.store.redis)
ladder = Ladder(policy, DlqIndex(ctx.store.redis), publish, lambda: ctx.config.platform.id)


def dedupe_key(cmd: DeliveryCommand) -> str:
    return cmd.command_id if cmd.hop == 0 else f"{cmd.command_id}.{cmd.hop}"


async def handle_event(event: faust.EventT[bytes]) -> None:
    cmd: DeliveryCommand | None = None
    try:
        cmd = codec.decode(DeliveryCommand, event.value)
        await handle(cmd, consumed(event))
    except Exception as exc:
        STAGE_ERRORS.labels("delivery").inc()
        log.exception("delivery failed; the message goes to the quarantine")
        await quarantine.put(Stage.DELIVERY, of_event(event), exc)
        if cmd is not None:
            await timeline.quarantined(
                ctx,
                cmd.tenant,
                cmd.platform_incident_id,
                cmd.target_integration_id,
                "delivery",
                exc,
                fields=tuple(cmd.set_fields),
                message_id=cmd.command_id,
            )


lanes = register(Lanes("delivery", handle_event))


# One agent; its partitions are handled at once, each in order (`outbound.lanes`).
@app.agent(commands_topic, concurrency=1)  # >1 can commit past unprocessed events (faust #606)
async def delivery_agent(stream: faust.StreamT[bytes]) -> None:
    await lanes.run(stream)


async def handle(cmd: DeliveryCommand, message: tracing.Consumed) -> None:
    scope = f"command:{cmd.target_integration_id}"
    key = dedupe_key(cmd)
    config = ctx.config

    async def first_read() -> list[Any]:  # the dedupe mark and the holds: one round trip
        async with ctx.store.pipeline() as pipe:
            ctx.store.q_seen(pipe, cmd.tenant, scope, key)
            hold.q_depths(pipe, cmd, config)
            return list(await pipe.execute())

    target = ctx.config.side(cmd.target_integration_id)
    with tracing.stage(
        "delivery",
        message=message,
        integration_id=cmd.target_integration_id,
        integration_type=target.type if target else None,
        direction=tracing.direction(cmd.source_integration_id == ctx.config.platform.id),
        incident_id=cmd.platform_incident_id,
        external_id=cmd.target_external_id,
    ) as span:
        seen, *depths = await until_done(first_read, "seen")
        if seen:
            tracing.set_attributes(span, outcome="duplicate")
            return
        held_for = await until_done(lambda: hold.place(cmd, config, depths), "hold")
        error = None
        observed: dict[str, Any] = {}  # what the timeline tells of the attempt
        if held_for is not None:
            outcome, external_id = "held", cmd.target_external_id
            DEFERRED.labels(cmd.target_integration_id, "paused").inc()
        else:
            transport.forget_status()
            started = time.perf_counter()
            result = await until_done(lambda: delivery.process(cmd), "delivery")
            observed = {
                "duration_s": time.perf_counter() - started,
                "status": result.status or transport.last_status(),
                "linked": result.linked,
            }
            outcome = await until_done(lambda: ladder.settle(cmd, result), "ladder")
            external_id, error = result.external_id, result.error
            if result.reference and external_id is not None:
                observed["reference"] = result.reference
        tracing.set_attributes(span, external_id=external_id, outcome=outcome)
        if outcome in ("written", "created", "skipped", "failed"):
            DELIVERIES.labels(cmd.target_integration_id, outcome).inc()
        if outcome in ("written", "created"):
            PROPAGATION.labels(cmd.target_integration_id).observe(
                (utcnow() - cmd.received_at).total_seconds()
            )
        reference = observed.pop("reference", None)
        recorded = record.entries(cmd, outcome, external_id=external_id, error=error, **observed)
        await done(cmd, outcome, error, scope, key, recorded, reference)
        log.info(
            "delivery",
            extra={
                "command_id": cmd.command_id,
                "attempt": cmd.attempt,
                "outcome": outcome,
                "target": cmd.target_integration_id,
                "external_id": external_id,
                "error": error,
                "held_for": held_for,
            },
        )


async def done(
    cmd: DeliveryCommand,
    outcome: str,
    error: str | None,
    scope: str,
    key: str,
    recorded: Sequence[Entry] = (),
    reference: str | None = None,
) -> None:
    """The sync counters, the incident's timeline and the dedupe mark, in one round trip. The
    counters and the timeline are best effort: when Redis fails that trip, the mark alone is
    retried until it is written."""
    store, config = ctx.store, ctx.config
    try:
        async with store.pipeline() as pipe:
            q_record_delivery(pipe, cmd, outcome, config, error)
            ctx.timeline.q_add(pipe, cmd.tenant, cmd.platform_incident_id, *recorded)
            if reference:
                ctx.timeline.q_reference(pipe, cmd.tenant, reference, cmd.platform_incident_id)
            store.q_mark_seen(pipe, cmd.tenant, scope, key, config.dedupe_ttl_s)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("sync counter not written", extra={"reason": repr(exc)})
        mark = store.mark_seen
        await until_done(lambda: mark(cmd.tenant, scope, key, config.dedupe_ttl_s), "mark_seen")
