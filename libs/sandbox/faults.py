"""API fault injection shared by the newer sandboxes: answer the next N API calls with an
error status (429 with Retry-After, 500, 503...) before serving normally again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int], web.Response]


@dataclass
class ApiFaults:
    fail_status: int = 0
    fail_remaining: int = 0
    retry_after_s: int | None = None
    failed: int = 0

    def set(self, status: int, count: int, retry_after_s: int | None = None) -> None:
        if count and not 400 <= status <= 599:
            raise ValueError("fail_status must be an HTTP error status")
        self.fail_status, self.fail_remaining, self.retry_after_s = status, count, retry_after_s

    def take(self) -> int | None:
        """The status to fail this call with, if one is due."""
        if self.fail_remaining <= 0:
            return None
        self.fail_remaining -= 1
        self.failed += 1
        return self.fail_status

    def stats(self) -> dict[str, int]:
        return {"api_faults_pending": self.fail_remaining, "api_faults_served": self.failed}


def fault_middleware(
    faults_of: Callable[[web.Request], ApiFaults], api_prefixes: tuple[str, ...], body: ErrorBody
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(api_prefixes):
            faults = faults_of(request)
            status = faults.take()
            if status is not None:
                response = body(status)
                if faults.retry_after_s is not None:
                    response.headers["Retry-After"] = str(faults.retry_after_s)
                return response
        return await handler(request)

    return middleware


async def set_api_faults_from(request: web.Request, faults: ApiFaults) -> None:
    """Reads `fail_status`, `fail_count`, `retry_after_s` from a `/_sandbox/faults` body."""
    body = await request.json() if request.can_read_body else {}
    if isinstance(body, dict) and "fail_count" in body:
        retry = body.get("retry_after_s")
        faults.set(
            int(body.get("fail_status", 503)),
            int(body["fail_count"]),
            int(retry) if retry is not None else None,
        )
