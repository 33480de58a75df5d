"""JSON error answers for the aiohttp services: every refusal is
`{"error": "<code>", "reason": "<human text>"}`.

Handlers raise `ApiError`; `error_middleware` turns it, aiohttp's own HTTP exceptions (404,
405, 413 from a body over `client_max_size`, ...) and genuine bugs into that shape, so a caller
never sees a stack trace or an HTML page. A bug answers 500 with a `request_id` (the trace id
when the request is traced, else a fresh one) that is also on the log line of its traceback:
the answer names the incident, never its internals.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace

log = logging.getLogger(__name__)

JSON: Final = "application/json"

# aiohttp's own exceptions, named the way our codes are.
CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}
# The headers of aiohttp's exceptions a caller needs to act on the refusal.
_KEPT_HEADERS: Final = frozenset({"allow", "retry-after"})

# The methods a service serves at a path, for the `Allow` of a 405 its router cannot know
# (routes dispatched by the service itself, as the control API's are).
AllowedMethods = Callable[[str], list[str]]
ALLOWED_METHODS: Final = web.AppKey[AllowedMethods]("allowed_methods")


class ApiError(Exception):
    """A request refused on purpose: its status, a stable code and a reason for people.
    `close` drops the connection after the answer (a body we refused to read)."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        *,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.headers = dict(headers or {})
        self.close = close

    def response(self) -> web.Response:
        resp = error_response(self.status, self.code, self.reason, headers=self.headers)
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


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items() if k.lower() in _KEPT_HEADERS}
    allowed = request.app.get(ALLOWED_METHODS)
    if exc.status == 405 and allowed is not None and (methods := allowed(request.path)):
        headers["Allow"] = ",".join(methods)
    reason = "request body too large" if exc.status == 413 else exc.reason
    resp = error_response(exc.status, CODES.get(exc.status, "error"), reason, headers=headers)
    if exc.status == 413:
        resp.force_close()  # do not keep reading a body we refused
    return resp


def request_id() -> str:
    """The current trace's id when the request is traced (the span the server-span middleware
    opened), else a fresh random id: what a 500 answer and its log line share."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else uuid.uuid4().hex


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except asyncio.CancelledError:
        raise
    except Exception:
        rid = request_id()
        log.exception(
            "unhandled error",
            extra={"path": request.path, "method": request.method, "request_id": rid},
        )
        return json_response(
            {
                "error": "internal",
                "reason": "internal error; it has been logged",
                "request_id": rid,
            },
            status=500,
        )
