"""The reconciler's HTTP side, on the service base (`runtime.webapp`): `/health`, `/ready`
(Redis answers, the producer is connected; the body says which sides this instance works),
`/metrics` on `HTTP_PORT` (the chart probes and scrapes them), and `/status` (those sides)."""

from __future__ import annotations

from aiohttp import web

from incident_sync.reconciler.worker import Reconciler
from incident_sync.runtime.webapp import service_app
from incident_sync.runtime.weberrors import json_response

RECONCILER = web.AppKey("reconciler", Reconciler)


async def status(request: web.Request) -> web.Response:
    return json_response(request.app[RECONCILER].status())


def build_app(reconciler: Reconciler) -> web.Application:
    async def redis() -> str | None:
        try:
            await reconciler.redis.ping()
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
            return f"redis unreachable ({type(exc).__name__})"
        return None

    async def kafka() -> str | None:
        return None if reconciler.publisher.started else "not connected"

    app = service_app({"redis": redis, "kafka": kafka}, detail=reconciler.status)
    app[RECONCILER] = reconciler
    app.router.add_get("/status", status)
    return app
