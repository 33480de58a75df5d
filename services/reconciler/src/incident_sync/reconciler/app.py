"""The reconciler's HTTP side: `/health`, `/ready`, `/metrics` on `HTTP_PORT` (as the worker
serves them; the chart probes and scrapes them), and `/status` (the sides this instance
works)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from incident_sync.reconciler.worker import Reconciler

RECONCILER = web.AppKey("reconciler", Reconciler)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    reconciler = request.app[RECONCILER]
    try:
        await reconciler.redis.ping()
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
        return web.json_response({"status": "unavailable", "redis": repr(exc)}, status=503)
    if not reconciler.publisher.started:
        return web.json_response({"status": "unavailable", "kafka": "not connected"}, status=503)
    return web.json_response({"status": "ready", **reconciler.status()})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[RECONCILER].status())


async def metrics(request: web.Request) -> web.Response:
    # aiohttp refuses a charset inside content_type: send the full header instead.
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(reconciler: Reconciler) -> web.Application:
    app = web.Application()
    app[RECONCILER] = reconciler
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    return app
