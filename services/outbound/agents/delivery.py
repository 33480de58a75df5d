"""sync.outbound -> delivery -> the tools' APIs (failures -> sync.dlq)"""

from __future__ import annotations

import logging

import faust
import orjson
from opentelemetry.trace import SpanKind

from outbound.app import app, ctx, dlq_topic, outbound_topic
from outbound.delivery import Delivery
from outbound.durable import until_done
from outbound.metrics import DELIVERIES, PROPAGATION, STAGE_ERRORS
from outbound.stats import record_delivery
from runtime import tracing
from syncmodel import codec, topics
from syncmodel.events import DeliveryCommand, utcnow

log = logging.getLogger(__name__)
delivery = Delivery(ctx)


@app.agent(outbound_topic, concurrency=1)
async def delivery_agent(stream: faust.StreamT[bytes]) -> None:
    async for raw in stream:
        headers = stream.current_event.headers if stream.current_event else None
        try:
            cmd = codec.decode(DeliveryCommand, raw)
        except ValueError:
            STAGE_ERRORS.labels("delivery").inc()
            log.exception("undecodable command dropped")
            continue
        try:
            await handle(cmd, headers)
        except Exception:
            STAGE_ERRORS.labels("delivery").inc()
            log.exception("delivery failed", extra={"command_id": cmd.command_id})
            await dead_letter(cmd, "internal error (see logs)")


async def handle(cmd: DeliveryCommand, headers: tracing.Headers = None) -> None:
    scope = f"command:{cmd.target_integration_id}"
    if await until_done(lambda: ctx.store.seen(cmd.tenant, scope, cmd.command_id), "seen"):
        return
    target = ctx.config.side(cmd.target_integration_id)
    with tracing.stage(
        "delivery",
        headers,
        kind=SpanKind.CLIENT,
        integration_id=cmd.target_integration_id,
        integration_type=target.type.value if target else None,
        direction=tracing.direction(cmd.source_integration_id == ctx.config.platform.id),
        incident_id=cmd.platform_incident_id,
        external_id=cmd.target_external_id,
    ) as span:
        result = await until_done(lambda: delivery.process(cmd), "delivery")
        tracing.set_attributes(span, external_id=result.external_id, outcome=result.outcome)
        DELIVERIES.labels(cmd.target_integration_id, result.outcome).inc()
        await record_delivery(
            ctx.store.redis, cmd, result.outcome, ctx.config.platform.id, result.error
        )
        if result.outcome == "failed":
            await dead_letter(cmd, result.error or "unknown error")
        else:
            PROPAGATION.labels(cmd.target_integration_id).observe(
                (utcnow() - cmd.received_at).total_seconds()
            )
        await until_done(
            lambda: ctx.store.mark_seen(cmd.tenant, scope, cmd.command_id, ctx.config.dedupe_ttl_s),
            "mark_seen",
        )
        log.info(
            "delivery",
            extra={
                "command_id": cmd.command_id,
                "outcome": result.outcome,
                "target": cmd.target_integration_id,
                "external_id": result.external_id,
                "error": result.error,
            },
        )


async def dead_letter(cmd: DeliveryCommand, reason: str) -> None:
    entry = {"command": orjson.loads(codec.encode(cmd)), "reason": reason, "at": utcnow()}
    key = topics.target_key(cmd.tenant, cmd.target_integration_id, cmd.command_id)
    sent = await dlq_topic.send(key=key, value=orjson.dumps(entry), headers=tracing.kafka_headers())
    await sent
