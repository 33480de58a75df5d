"""`python -m incident_sync.reconciler`: drift detection, auto-heal, schedules and the polling
fallback for one tenant (`SYNC_TENANT`); settings from the environment (see README,
"Reconciliation")."""

from __future__ import annotations

import asyncio
import logging

from incident_sync.reconciler.app import build_app
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.reconciler.worker import Reconciler
from incident_sync.runtime.logs import setup_logging
from incident_sync.runtime.tracing import setup_tracing
from incident_sync.runtime.webapp import HttpServer, stop_signal
from incident_sync.syncstate.client import connect

log = logging.getLogger("reconciler")


async def serve(settings: ReconcilerSettings) -> None:
    redis = connect(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    sides = Sides.from_settings(settings)
    reconciler = Reconciler(settings, sides, redis)
    server = HttpServer(build_app(reconciler), settings.http_host, settings.http_port)
    await server.start()
    log.info(
        "reconciler started",
        extra={
            "port": settings.http_port,
            "instance": settings.instance,
            "poll_interval_s": settings.poll_interval_s,
            "lease_s": settings.lease_s,
        },
    )
    stop = stop_signal()
    try:
        await reconciler.run(stop)
    finally:
        await server.stop()
        await sides.aclose()
        await redis.aclose()
        log.info("reconciler stopped")


def main() -> None:
    settings = ReconcilerSettings()
    setup_logging(settings.log_level)
    setup_tracing("incident-sync-reconciler")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
