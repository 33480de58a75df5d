"""API fault injection shared by the sandboxes.

Two kinds, combinable:
- the next N API calls answer an error status (429 with Retry-After, 500, 503...) before the
  sandbox serves normally again (`fail_status`, `fail_count`, `retry_after_s`);
- a share of the calls fail at random (`random_ratio`, seeded), each as one of `random_kinds`:
  "500", "429" (with Retry-After) or "timeout" (the request is held `timeout_s` and then
  answered 504 without being applied, so a client with a shorter timeout sees a timeout).
`latency_s` makes every call slow (still applied). `path_contains` narrows all of it to the
calls whose path contains it (one record).

Every API call is logged with its time, method, path and status: what a test needs to show,
for instance, that no request arrived before a Retry-After ran out.

`with_api_faults(app, prefixes, body)` installs all of it on a sandbox app, with
`POST /_sandbox/api-faults` (set, `{}` clears) and `GET /_sandbox/api-faults` (state + log).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int], web.Response]
KINDS = ("500", "429", "timeout")
LOG_SIZE = 20_000


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after_s: float | None = None
    hold_s: float = 0.0  # a timeout: answer only after this long


@dataclass
class ApiFaults:
    fail_status: int = 0
    fail_remaining: int = 0
    retry_after_s: float | None = None
    failed: int = 0
    random_ratio: float = 0.0
    random_kinds: tuple[str, ...] = KINDS
    timeout_s: float = 2.0
    path_contains: str | None = None
    latency_s: float = 0.0
    _rng: random.Random = field(default_factory=random.Random)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def reset(self) -> None:
        """No faults (the request log stays)."""
        self.fail_status = self.fail_remaining = self.failed = 0
        self.retry_after_s, self.random_ratio, self.path_contains = None, 0.0, None
        self.latency_s = 0.0

    def set(self, status: int, count: int, retry_after_s: float | None = None) -> None:
        if count and not 400 <= status <= 599:
            raise ValueError("fail_status must be an HTTP error status")
        self.fail_status, self.fail_remaining, self.retry_after_s = status, count, retry_after_s

    def set_random(
        self,
        ratio: float,
        kinds: tuple[str, ...] = KINDS,
        retry_after_s: float | None = None,
        timeout_s: float = 2.0,
        seed: int | None = None,
    ) -> None:
        if not 0 <= ratio <= 1:
            raise ValueError("random_ratio must be within [0, 1]")
        unknown = set(kinds) - set(KINDS)
        if unknown or not kinds:
            raise ValueError(f"random_kinds must be among {KINDS}")
        self.random_ratio, self.random_kinds, self.timeout_s = ratio, kinds, timeout_s
        self.retry_after_s = retry_after_s
        self._rng = random.Random(seed)

    def take(self, path: str = "") -> Fault | None:
        """The fault to answer this call with, if one is due."""
        if self.path_contains and self.path_contains not in path:
            return None
        if self.fail_remaining > 0:
            self.fail_remaining -= 1
            self.failed += 1
            retry = self.retry_after_s if self.fail_status in (429, 503) else None
            return Fault(self.fail_status, retry)
        if self.random_ratio and self._rng.random() < self.random_ratio:
            self.failed += 1
            kind = self._rng.choice(self.random_kinds)
            if kind == "timeout":
                return Fault(504, hold_s=self.timeout_s)
            if kind == "429":
                return Fault(429, self.retry_after_s if self.retry_after_s is not None else 1)
            return Fault(500)
        return None

    def record(self, request: web.Request, status: int) -> None:
        self.log.append(
            {"t": time.time(), "method": request.method, "path": request.path, "status": status}
        )

    def stats(self) -> dict[str, Any]:
        return {
            "api_faults_pending": self.fail_remaining,
            "api_faults_served": self.failed,
            "random_ratio": self.random_ratio,
        }


def _retry_after(seconds: float) -> str:
    # Whole seconds as the header defines them; tests scale time down with fractions.
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def fault_middleware(
    faults_of: Callable[[web.Request], ApiFaults], api_prefixes: tuple[str, ...], body: ErrorBody
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(api_prefixes):
            return await handler(request)
        faults = faults_of(request)
        fault = faults.take(request.path)
        if faults.latency_s and (not faults.path_contains or faults.path_contains in request.path):
            await asyncio.sleep(faults.latency_s)
        if fault is None:
            response = await handler(request)
            faults.record(request, response.status)
            return response
        faults.record(request, fault.status)
        if fault.hold_s:
            await asyncio.sleep(fault.hold_s)  # not applied: the client gave up meanwhile
        error = body(fault.status)
        if fault.retry_after_s is not None:
            error.headers["Retry-After"] = _retry_after(fault.retry_after_s)
        return error

    return middleware


async def set_api_faults_from(request: web.Request, faults: ApiFaults) -> None:
    """Reads `fail_status`, `fail_count`, `retry_after_s`, `random_ratio`, `random_kinds`,
    `timeout_s`, `seed`, `path_contains`, `latency_s` from a faults body."""
    body = await request.json() if request.can_read_body else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    retry = body.get("retry_after_s")
    retry_s = float(retry) if retry is not None else None
    if "fail_count" in body:
        faults.set(int(body.get("fail_status", 503)), int(body["fail_count"]), retry_s)
    if "random_ratio" in body:
        faults.set_random(
            float(body["random_ratio"]),
            tuple(str(k) for k in body.get("random_kinds", KINDS)),
            retry_s,
            float(body.get("timeout_s", 2.0)),
            body.get("seed"),
        )
    if "path_contains" in body:
        faults.path_contains = body["path_contains"] or None
    if "latency_s" in body:
        faults.latency_s = max(0.0, float(body["latency_s"]))


FAULTS = web.AppKey("sandbox_api_faults", ApiFaults)


def with_api_faults(app: web.Application, api_prefixes: tuple[str, ...], body: ErrorBody) -> None:
    """Fault injection and the request log on a sandbox's API (see the module's doc)."""
    faults = ApiFaults()
    app[FAULTS] = faults
    app.middlewares.append(fault_middleware(lambda r: r.app[FAULTS], api_prefixes, body))

    async def post(request: web.Request) -> web.Response:
        faults.reset()
        try:
            await set_api_faults_from(request, faults)
        except (ValueError, TypeError) as exc:
            faults.reset()
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(faults.stats())

    async def get(request: web.Request) -> web.Response:
        return web.json_response({**faults.stats(), "requests": list(faults.log)})

    app.router.add_post("/_sandbox/api-faults", post)
    app.router.add_get("/_sandbox/api-faults", get)
