"""A small aiohttp stub of a vendor HTTP API, shared by the connector tests: it answers queued
replies per (method, path) and records every request it receives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON, or None when the request had no body."""
        return orjson.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


# (status, body) or (status, body, headers); a bytes body is sent as-is (text/html), anything
# else as JSON.
Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Responder = Reply | Callable[[Seen], Reply]


@dataclass
class Stub:
    """Answers queued replies per (method, path) and records every request.

    Each route's replies are used in order, the last one repeating; a callable reply is called
    with the request. A request with no route gets `not_found`, the vendor's own 404 answer.
    """

    not_found: Reply
    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def on(self, method: str, path: str, *replies: Responder) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    async def handle(self, request: web.Request) -> web.Response:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        self.seen.append(seen)
        queue = self.routes.get((request.method, request.path)) or [self.not_found]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(reply):
            reply = reply(seen)
        status, body, *extra = reply
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        ctype = "application/json" if not isinstance(body, bytes) else "text/html"
        return web.Response(
            status=status, body=raw, content_type=ctype, headers=extra[0] if extra else None
        )


@asynccontextmanager
async def serve(stub: Stub) -> AsyncIterator[Stub]:
    """Run `stub` on a local port for the duration of the block; sets `stub.url`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    server = TestServer(app)
    await server.start_server()
    stub.url = str(server.make_url("")).rstrip("/")
    try:
        yield stub
    finally:
        await server.close()
