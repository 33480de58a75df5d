"""Held commands in the worker: an integration that is not paused (any more) gets the
commands held for it (`stages.hold.hold`) delivered, on sync.outbound, every `hold_check_s`."""

from __future__ import annotations

import logging

from incident_sync.outbound.app import app, ctx
from incident_sync.outbound.stages.delivery.agent import delivery_settings, hold, publish
from incident_sync.outbound.stages.delivery.ladder import command_key
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand

log = logging.getLogger(__name__)


async def _send(cmd: DeliveryCommand) -> None:
    key = command_key(cmd)
    with tracing.sending(topics.COMMANDS, key):
        await publish(topics.COMMANDS, key, codec.encode(cmd), tracing.kafka_headers())


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
