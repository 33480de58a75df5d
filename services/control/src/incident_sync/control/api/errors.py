"""JSON error answers, the same shape as the ingress's: `{"error": "<code>", "reason": "..."}`.

Handlers raise `ApiError`; the middleware also turns aiohttp's own HTTP exceptions and genuine
bugs (500, logged without the request body) into that shape. Validation errors never echo the
input back: a rejected secret must not come back in the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

log = logging.getLogger("control")

JSON: Final = "application/json"

_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, reason: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.reason, headers=self.headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} does not exist")


def invalid(exc: ValidationError, prefix: str = "") -> ApiError:
    """422 listing what is wrong where, without the input values."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{prefix}{where}: {err['msg'].removeprefix('Value error, ')}")
    return ApiError(422, "invalid", "; ".join(problems[:10]) or "invalid")


def json_response(
    data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON, headers=headers)


def error_response(
    status: int, code: str, reason: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"error": code, "reason": reason}, status=status, headers=headers)


# The methods the API serves at a path (`routing.allowed_methods` over the route table).
AllowedMethods = Callable[[str], list[str]]
ALLOWED_METHODS: Final = web.AppKey[AllowedMethods]("allowed_methods")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow"}}
        allowed = request.app.get(ALLOWED_METHODS)
        if exc.status == 405 and allowed is not None and (methods := allowed(request.path)):
            headers = {"Allow": ",".join(methods)}
        reason = "request body too large" if exc.status == 413 else exc.reason
        return error_response(exc.status, _CODES.get(exc.status, "error"), reason, headers=headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response(500, "internal", "internal error; it has been logged")
