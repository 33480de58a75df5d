"""The aiohttp service base: the application every service's HTTP side starts from.

`service_app()` is a `web.Application` with the server-span middleware (`httpspans`) outermost,
then the one error middleware (`weberrors`: every refusal JSON, a bug a 500 with a request id),
and, unless the service routes them itself (`probes=False`, the control API: they pass its
policy and are in its OpenAPI document), the three operational routes:

- `/health`: 200 `{"status": "ok"}` while the process serves at all (liveness).
- `/ready`: the named `checks`, run together; each answers None when fine, else why not.
  200 `{"status": "ready", "checks": {name: "ok"}, ...}`; 503
  `{"error": "not_ready", "reason": "<name>: <why>; ...", "checks": {name: "ok" | why}, ...}`.
  `detail()` adds what the service tells about itself (the worker's partitions) to both.
- `/metrics`: prometheus_client's own aiohttp exposition of the default registry: the text
  format, or OpenMetrics when the scraper's Accept asks for it; gzip when its Accept-Encoding
  allows; `name[]=` selects families.

Services add their own routes to the application they get. `HttpServer` runs one on a port;
`stop_signal()` is the event a service's main waits on (SIGTERM, SIGINT).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.aiohttp import make_aiohttp_handler

from incident_sync.runtime.httpspans import server_spans
from incident_sync.runtime.weberrors import (
    ALLOWED_METHODS,
    AllowedMethods,
    error_middleware,
    json_response,
)

# A readiness check: None when fine, else the reason, for people.
Check = Callable[[], Awaitable[str | None]]
Detail = Callable[[], Mapping[str, object]]

DEFAULT_MAX_BODY: Final = 1024**2  # aiohttp's own default for `client_max_size`

metrics: Final[Handler] = make_aiohttp_handler()


async def health(request: web.Request) -> web.StreamResponse:
    return health_response()


def health_response() -> web.Response:
    return json_response({"status": "ok"})


async def ready_response(checks: Mapping[str, Check], detail: Detail | None = None) -> web.Response:
    """The /ready answer of `checks` (see the module's docstring)."""
    names = list(checks)
    results = await asyncio.gather(*(checks[n]() for n in names))
    status = {n: (r or "ok") for n, r in zip(names, results, strict=True)}
    extra = dict(detail()) if detail is not None else {}
    down = [f"{n}: {r}" for n, r in zip(names, results, strict=True) if r is not None]
    if down:
        body = {"error": "not_ready", "reason": "; ".join(down), "checks": status, **extra}
        return json_response(body, status=503)
    return json_response({"status": "ready", "checks": status, **extra})


def ready_handler(checks: Mapping[str, Check], detail: Detail | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await ready_response(checks, detail)

    return handler


def service_app(
    checks: Mapping[str, Check] | None = None,
    *,
    detail: Detail | None = None,
    client_max_size: int = DEFAULT_MAX_BODY,
    probes: bool = True,
    allowed_methods: AllowedMethods | None = None,
) -> web.Application:
    """The base application. A body over `client_max_size` is refused 413 (JSON) when a
    handler reads it; `allowed_methods` gives the `Allow` of a 405 for routes the service
    dispatches itself."""
    app = web.Application(
        client_max_size=client_max_size, middlewares=[server_spans(), error_middleware]
    )
    if allowed_methods is not None:
        app[ALLOWED_METHODS] = allowed_methods
    if probes:
        app.router.add_get("/health", health)
        app.router.add_get("/ready", ready_handler(dict(checks or {}), detail))
        app.router.add_get("/metrics", metrics)
    return app


class HttpServer:
    """One application served on `host:port` until `stop()`; requests in flight get
    `shutdown_timeout` seconds to finish."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        shutdown_timeout: float = 5.0,
        backlog: int = 128,
    ) -> None:
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        self.host = host
        self.port = port
        self.backlog = backlog

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port, backlog=self.backlog).start()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens once started (the port the system chose for `port=0`)."""
        return [(a[0], a[1]) for a in self.runner.addresses]

    async def stop(self) -> None:
        await self.runner.cleanup()


def stop_signal() -> asyncio.Event:
    """An event set when the process receives SIGTERM or SIGINT (in the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
