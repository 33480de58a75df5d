"""HTTP server spans for the aiohttp services, as OpenTelemetry's HTTP semantic conventions
(stable; the constants of `opentelemetry-semantic-conventions`) draw them.

`server_spans()` is the outermost middleware of every service's application
(`runtime.webapp`): each request is a SERVER span named `<method> <route>`
(`POST /webhooks/{integration_id}`; the method alone when no route matched, `HTTP` for a
method outside the standard ones) with `http.request.method`, `url.path`, `url.scheme`,
`http.route`, `network.protocol.version`, `client.address`, `user_agent.original` and
`http.response.status_code`; a 5xx sets `error.type` and the span's status to ERROR (a 4xx is
the client's error, not the server's).
The query string and the request's headers are not recorded.

A request's W3C `traceparent` (and `tracestate`) is continued: its span is the child of the
caller's, and what the request publishes carries that trace on to the worker. Only the W3C
trace context is taken from a caller; baggage is not. `/health`, `/ready` and `/metrics` (probes,
scrapes) make no span. With tracing off, a request without a `traceparent` costs a header
lookup; one with it still passes its context on (as a stage does, `runtime.tracing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry.semconv.attributes.client_attributes import CLIENT_ADDRESS
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_SCHEME
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from incident_sync.runtime import tracing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNTRACED: Final = frozenset({"/health", "/ready", "/metrics"})
# The methods of RFC 9110 and PATCH (RFC 5789); any other is `_OTHER`, as the conventions ask.
METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
W3C: Final = TraceContextTextMapPropagator()
TRACE_CONTEXT: Final = ("traceparent", "tracestate")


def route(request: web.Request) -> str | None:
    """The matched route's template (`/webhooks/{integration_id}`), None when none matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def span_name(method: str, template: str | None) -> str:
    shown = "HTTP" if method == "_OTHER" else method
    return f"{shown} {template}" if template else shown


def request_attributes(request: web.Request, template: str | None) -> dict[str, AttributeValue]:
    method = request.method.upper()
    known = method if method in METHODS else "_OTHER"
    out: dict[str, AttributeValue] = {
        HTTP_REQUEST_METHOD: known,
        URL_PATH: request.path,
        URL_SCHEME: request.scheme,
        NETWORK_PROTOCOL_VERSION: f"{request.version.major}.{request.version.minor}",
    }
    if known != method:
        out[HTTP_REQUEST_METHOD_ORIGINAL] = request.method
    if template is not None:
        out[HTTP_ROUTE] = template
    if request.remote:
        out[CLIENT_ADDRESS] = request.remote
    if agent := request.headers.get("User-Agent"):
        out[USER_AGENT_ORIGINAL] = agent
    return out


def _finish(span: Span, status: int) -> None:
    if not span.is_recording():
        return
    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
    if status >= 500:
        span.set_attribute(ERROR_TYPE, str(status))
        span.set_status(Status(StatusCode.ERROR))


def server_spans(untraced: frozenset[str] = UNTRACED) -> Middleware:
    """The middleware (put it first: it must see the response the others made)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        if (tracing.off() and "traceparent" not in headers) or request.path in untraced:
            return await handler(request)  # the hot path when tracing is off: one lookup
        carrier = {k: v for k in TRACE_CONTEXT if (v := headers.get(k)) is not None}
        template = route(request)
        method = request.method.upper()
        parent = W3C.extract(carrier) if carrier else None
        with tracing.tracer().start_as_current_span(
            span_name(method if method in METHODS else "_OTHER", template),
            context=parent,
            kind=SpanKind.SERVER,
            attributes=request_attributes(request, template),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                _finish(span, exc.status)
                raise
            except Exception as exc:
                if span.is_recording():
                    span.record_exception(exc)
                    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            _finish(span, response.status)
            return response

    return middleware
