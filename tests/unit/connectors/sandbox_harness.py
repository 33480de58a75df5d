"""Runs a sandbox app in-process for connector tests: every request it receives is recorded
(to check against the vendor's OpenAPI document) and its webhooks go to a capturing stub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.unit.connectors.openapi import Request
from tests.unit.connectors.stub_server import Seen, Stub, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Harness:
    url: str
    hooks: Stub
    requests: list[Request] = field(default_factory=list)
    app: web.Application | None = None

    def webhooks(self) -> list[Seen]:
        return self.hooks.calls("POST", "/hook")

    def api_requests(self, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(prefix)]


@asynccontextmanager
async def running(build: Callable[[str], web.Application]) -> AsyncIterator[Harness]:
    """`build(webhook_url)` makes the sandbox app; it runs until the block ends."""
    async with serve(Stub(not_found=(200, {}))) as hooks:
        app = build(f"{hooks.url}/hook")
        harness = Harness(url="", hooks=hooks, app=app)

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith("/_sandbox"):
                harness.requests.append(
                    Request(
                        request.method,
                        request.path,
                        dict(request.query),
                        dict(request.headers),
                        await request.read(),
                    )
                )
            return await handler(request)

        app.middlewares.insert(0, record)
        server = TestServer(app)
        await server.start_server()
        harness.url = str(server.make_url("")).rstrip("/")
        try:
            yield harness
        finally:
            await server.close()
