"""`python -m incident_sync.ingress`: settings from the environment; the sides from
INCIDENT_SYNC_CONFIG, or from the control store when CONFIG_SOURCE=control (reloaded while running).

SIGTERM (or SIGINT): stop accepting connections, let in-flight requests finish, then flush and
close the producers.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from aiohttp import web

from incident_sync.connectors.registry import REGISTRY
from incident_sync.controlstore.source import config_source
from incident_sync.ingress.app import build_app
from incident_sync.runtime.logs import setup_logging
from incident_sync.runtime.settings import Settings
from incident_sync.runtime.tracing import setup_tracing
from incident_sync.runtime.webapp import stop_signal

log = logging.getLogger("ingress")

SHUTDOWN_GRACE_S = 10.0


async def serve(settings: Settings) -> None:
    source = config_source(settings, tool_types=REGISTRY.types())
    config = await asyncio.to_thread(source.load)  # waits for a platform in the store
    # Its startup connects the producers and ensures topics.
    app = build_app(settings, config, config_source=source)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    # Everything built so far lives as long as the process: keep it out of the collector's
    # scans, which every request's short-lived objects trigger.
    gc.collect()
    gc.freeze()
    site = web.TCPSite(runner, settings.http_host, settings.http_port, backlog=1024)
    await site.start()
    log.info("ingress listening", extra={"host": settings.http_host, "port": settings.http_port})

    stop = stop_signal()
    await stop.wait()
    log.info("shutting down: no new connections, finishing in-flight requests")
    await runner.cleanup()  # closes the listener, drains requests, then flushes producers
    log.info("ingress stopped")


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level)
    setup_tracing("incident-sync-ingress")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
