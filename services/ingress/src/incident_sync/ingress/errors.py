"""JSON error answers: every refusal is `{"error": "<code>", "reason": "<human text>"}`.

Handlers raise `ApiError`; the middleware turns it, aiohttp's own HTTP exceptions (404, 405,
413 from a body over `client_max_size`) and genuine bugs (500, logged) into JSON, so a caller
never sees a stack trace or an HTML page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger("ingress")

JSON: Final = "application/json"

# aiohttp's own exceptions, named the way our codes are.
_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """A request refused on purpose. `outcome` is the metrics label, when it is a webhook."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        *,
        outcome: str | None = None,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.outcome = outcome
        self.headers = dict(headers or {})
        self.close = close

    def response(self) -> web.Response:
        resp = json_response(
            {"error": self.code, "reason": self.reason}, status=self.status, headers=self.headers
        )
        if self.close:
            resp.force_close()
        return resp


def json_response(
    data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON, headers=headers)


def error_response(
    status: int, code: str, reason: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"error": code, "reason": reason}, status=status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    code = _CODES.get(exc.status, "error")
    reason = exc.reason
    if exc.status == 413:
        reason = "request body too large"
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    resp = error_response(exc.status, code, reason, headers=headers)
    if exc.status == 413:
        resp.force_close()  # do not keep reading a body we refused
    return resp


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(exc)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response(500, "internal", "internal error; it has been logged")
