"""The worker's gauges, every `gauges_s`: circuit states, DLQ depth, quarantine depth,
retry depth (the relay's topics) and consumer lag. A gauge that cannot be read skips a beat
with a warning; nothing else depends on them.

The circuit states and the consumer lag are also written to Redis (`syncstate.health`) for
the control API's status routes: this worker's breaker per integration, and the group's lag,
each valid `REPORT_BEATS` beats, so a worker that died drops out of the status soon after."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Final

from incident_sync.outbound.app import app, ctx, quarantine
from incident_sync.outbound.lag import LagProbe
from incident_sync.outbound.metrics import CIRCUIT_STATE, DLQ_DEPTH, QUARANTINE_DEPTH
from incident_sync.outbound.stages.delivery.agent import delivery_settings, throttle
from incident_sync.outbound.stages.delivery.throttle import HALF_OPEN, OPEN
from incident_sync.outbound.stages.relay.agent import relay
from incident_sync.syncmodel import breakers, topics
from incident_sync.syncstate.dlq import DlqIndex
from incident_sync.syncstate.health import ConsumerLag, Health

log = logging.getLogger(__name__)

lag = LagProbe(ctx.settings, app.conf.id, (topics.OBSERVATIONS, topics.LINKED, topics.COMMANDS))
dlq = DlqIndex(ctx.store.redis)
health = Health(ctx.store.redis)
# A report outlives a beat or two that is late or skipped, not a worker that is gone.
REPORT_BEATS: Final = 3
# Which worker a breaker report is of: the host (a pod's name) and the process.
WORKER: Final = f"{socket.gethostname()}-{os.getpid()}"
NAMES: Final[dict[int, breakers.State]] = {OPEN: "open", HALF_OPEN: "half-open"}


def breaker_report(integration_id: str, now: float) -> breakers.BreakerReport:
    """This worker's breaker for the integration, as reported to Redis."""
    state = throttle.circuit_state(integration_id)
    return breakers.BreakerReport(
        worker=WORKER,
        state=NAMES.get(state, "closed"),
        at=now,
        expires_at=now + REPORT_BEATS * delivery_settings.gauges_s,
        half_opens_at=throttle.half_opens_at(integration_id) if state == OPEN else None,
    )


@app.timer(interval=delivery_settings.gauges_s)  # type: ignore[untyped-decorator]
async def gauges() -> None:
    config = ctx.config
    now = time.time()
    for side in (config.platform, *config.integrations):
        CIRCUIT_STATE.labels(side.id).set(throttle.circuit_state(side.id))
        try:
            await health.report_breaker(side.tenant, side.id, breaker_report(side.id, now))
        except Exception as exc:  # noqa: BLE001 - a gauge skips a beat
            log.warning("breaker state not written", extra={"reason": repr(exc)})
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
    per_topic = await lag.export()
    if per_topic is not None:
        measured = ConsumerLag(group=app.conf.id, topics=per_topic, at=time.time())
        try:
            await health.report_consumer_lag(measured, REPORT_BEATS * delivery_settings.gauges_s)
        except Exception as exc:  # noqa: BLE001
            log.warning("consumer lag not written", extra={"reason": repr(exc)})


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # async receivers are supported
async def _stop(sender: object, *args: object, **kwargs: object) -> None:
    await lag.aclose()
