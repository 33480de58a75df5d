"""The worker's gauges, every `gauges_s`: circuit states, DLQ depth, quarantine depth,
retry depth (the relay's topics) and consumer lag. A gauge that cannot be read skips a beat
with a warning; nothing else depends on them."""

from __future__ import annotations

import logging

from incident_sync.outbound.app import app, ctx, quarantine
from incident_sync.outbound.lag import LagProbe
from incident_sync.outbound.metrics import CIRCUIT_STATE, DLQ_DEPTH, QUARANTINE_DEPTH
from incident_sync.outbound.stages.delivery.agent import delivery_settings, throttle
from incident_sync.outbound.stages.relay.agent import relay
from incident_sync.syncmodel import topics
from incident_sync.syncstate.dlq import DlqIndex

log = logging.getLogger(__name__)

lag = LagProbe(ctx.settings, app.conf.id, (topics.OBSERVATIONS, topics.LINKED, topics.COMMANDS))
dlq = DlqIndex(ctx.store.redis)


@app.timer(interval=delivery_settings.gauges_s)  # type: ignore[untyped-decorator]
async def gauges() -> None:
    config = ctx.config
    for side in (config.platform, *config.integrations):
        CIRCUIT_STATE.labels(side.id).set(throttle.circuit_state(side.id))
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
    await lag.aclose()
