"""The retry relay in the worker: sync.retry.<n> -> sync.outbound (or the topic a message's
`retry-to` names) when due. Held commands are `stages.hold.agent`'s, the gauges
`outbound.gauges`'."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import ConsumerRecord

from incident_sync.outbound.app import app, ctx, quarantine
from incident_sync.outbound.quarantine import of_record
from incident_sync.outbound.stages.delivery.agent import delivery_settings, policy
from incident_sync.outbound.stages.relay.relay import RetryRelay
from incident_sync.runtime.kafka import ensure_topics
from incident_sync.syncmodel import topics
from incident_sync.syncstate.quarantine import Stage

log = logging.getLogger(__name__)


async def _quarantine(record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
    # A retry puts it back on the delayed topic it came from: the relay sends it on when due.
    await quarantine.put(Stage.RELAY, of_record(record), error, retry_topic=record.topic)


relay = RetryRelay(ctx.settings, delivery_settings, policy.topics, quarantine=_quarantine)


@app.task  # type: ignore[untyped-decorator]
async def retry_relay() -> None:
    """Runs for the worker's life; restarts after an unexpected error."""
    await ensure_topics(
        ctx.settings, [*policy.topics, topics.DLQ, topics.QUARANTINE, topics.COMMANDS]
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


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # async receivers are supported
async def _stop(sender: object, *args: object, **kwargs: object) -> None:
    await relay.stop()
