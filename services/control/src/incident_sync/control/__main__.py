"""`python -m incident_sync.control`: the control API (settings from the environment, see
README)."""

from __future__ import annotations

import asyncio
import logging

from incident_sync.control.api.app import build_app
from incident_sync.control.settings import ControlSettings
from incident_sync.runtime.logs import setup_logging
from incident_sync.runtime.tracing import setup_tracing
from incident_sync.runtime.webapp import HttpServer, stop_signal

log = logging.getLogger("control")


async def serve(settings: ControlSettings) -> None:
    app = build_app(settings)
    server = HttpServer(app, settings.http_host, settings.http_port)
    await server.start()
    log.info(
        "control API listening",
        extra={
            "host": settings.http_host,
            "port": settings.http_port,
            "policy": settings.policy_file,
        },
    )
    stop = stop_signal()
    await stop.wait()
    await server.stop()
    log.info("control API stopped")


def main() -> None:
    settings = ControlSettings()
    setup_logging(settings.log_level)
    setup_tracing("incident-sync-control")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
