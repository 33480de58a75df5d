"""The delivery path's background work in the worker: the retry relay (sync.retry.<n> ->
sync.outbound when due), letting held commands out once their integration is resumed, and
the gauges (DLQ depth, quarantine depth, retry depth, consumer lag, circuit states)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import ConsumerRecord

from incident_sync.outbound.agents.delivery import delivery_settings, guard, hold, policy, publish
from incident_sync.outbound.app import app, ctx, quarantine
from incident_sync.outbound.ladder import command_key
from incident_sync.outbound.lag import LagProbe
from incident_sync.outbound.metrics import CIRCUIT_STATE, DLQ_DEPTH, QUARANTINE_DEPTH
from incident_sync.outbound.quarantine import of_record
from incident_sync.outbound.relay import RetryRelay
from incident_sync.runtime import tracing
from incident_sync.runtime.kafka import ensure_topics
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncstate.dlq import DlqIndex
from incident_sync.syncstate.quarantine import Stage

log = logging.getLogger(__name__)


async def _quarantine(record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
    # A retry puts it back on the delayed topic it came from: the relay sends it on when due.
    await quarantine.put(Stage.RELAY, of_record(record), error, retry_topic=record.topic)


relay = RetryRelay(ctx.settings, delivery_settings, policy.topics, quarantine=_quarantine)
lag = LagProbe(ctx.settings, app.conf.id, (topics.INBOUND, topics.CHANGES, topics.OUTBOUND))
dlq = DlqIndex(ctx.store.redis)


@app.task  # type: ignore[untyped-decorator]
async def retry_relay() -> None:
    """Runs for the worker's life; restarts after an unexpected error."""
    await ensure_topics(
        ctx.settings, [*policy.topics, topics.DLQ, topics.QUARANTINE, topics.OUTBOUND]
    )
    while True:
        try:
            await relay.start()
            await relay.run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retry relay failed; restarting")
            await relay.close()
            await asyncio.sleep(1.0)


async def _send(cmd: DeliveryCommand) -> None:
    key = command_key(cmd)
    with tracing.sending(topics.OUTBOUND, key):
        await publish(topics.OUTBOUND, key, codec.encode(cmd), tracing.kafka_headers())


@app.timer(interval=delivery_settings.hold_check_s)  # type: ignore[untyped-decorator]
async def release_held() -> None:
    """Integrations that are not paused (any more) get their held commands delivered."""
    config = ctx.config
    for side in (config.platform, *config.integrations):
        if side.paused:
            continue
        try:
            if await hold.depth(side.tenant, side.id):

                def still_open(side_id: str = side.id) -> bool:
                    current = ctx.config.side(side_id)
                    return current is not None and not current.paused

                await hold.release(side.tenant, side.id, _send, still_open)
        except Exception:  # next tick tries again; nothing left the stream
            log.exception("releasing held commands failed", extra={"integration": side.id})


@app.timer(interval=delivery_settings.gauges_s)  # type: ignore[untyped-decorator]
async def gauges() -> None:
    config = ctx.config
    for side in (config.platform, *config.integrations):
        CIRCUIT_STATE.labels(side.id).set(guard.circuit_state(side.id))
        try:
            DLQ_DEPTH.labels(side.id).set(await dlq.depth(side.tenant, side.id))
        except Exception as exc:  # noqa: BLE001 - a gauge skips a beat
            log.warning("dlq depth not read", extra={"reason": repr(exc)})
    try:
        for (stage, integration), n in (
            await quarantine.index.depths(config.platform.tenant)
        ).items():
            QUARANTINE_DEPTH.labels(stage, integration).set(n)
    except Exception as exc:  # noqa: BLE001
        log.warning("quarantine depth not read", extra={"reason": repr(exc)})
    try:
        await relay.depth()
    except Exception as exc:  # noqa: BLE001
        log.warning("retry depth not read", extra={"reason": repr(exc)})
    await lag.export()


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # async receivers are supported
async def _stop(sender: object, *args: object, **kwargs: object) -> None:
    await relay.stop()
    await lag.aclose()
