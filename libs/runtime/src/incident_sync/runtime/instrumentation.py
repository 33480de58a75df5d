"""httpx and redis calls as child spans, through OpenTelemetry's own instrumentations.

`instrument(provider)` (called by `tracing.setup_tracing` once a provider records spans):
- the instrumentations emit the current semantic conventions (`OTEL_SEMCONV_STABILITY_OPT_IN`
  gains `http` and `database` unless it names a mode of theirs already): a tool call is a
  CLIENT span `POST` with `http.request.method`, `url.full`, `server.address`,
  `http.response.status_code`; a Redis call one named by its command (`EVALSHA`) with
  `db.system.name=redis` and the command's shape only (`EVALSHA ? ? ?`: the instrumentation
  never records an argument);
- no secret reaches a span: `url.full` is cut to scheme, host and path (userinfo and the
  query string go: a query may carry an address or an account's search), and the request
  and response headers an operator asks to capture
  (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`; none by default) have the values of every
  credential-like header (`CREDENTIAL_HEADERS`) replaced by `[REDACTED]`.

`sampler()` keeps these spans to the stages' traces: a CLIENT span with no parent (a config
poll, a readiness probe's PING, a lease renewal: work outside any stage) is not recorded;
everything else is decided by the sampler `OTEL_TRACES_SAMPLER` names (parent-based by
default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Final

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.semconv.attributes.url_attributes import URL_FULL
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
SANITIZE: Final = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"
# Header names (regular expressions, searched case-insensitively) whose values a captured
# header never shows: Authorization (Bearer, Basic), Datadog's DD-API-KEY and
# DD-APPLICATION-KEY, cookies, and anything named like a token, a secret or a signature.
CREDENTIAL_HEADERS: Final = ("authorization", "cookie", "key", "token", "secret", "signature")


def safe_url(url: httpx.URL | tuple[bytes, bytes, int | None, bytes] | str) -> str:
    """scheme://host[:port]/path of a request's URL: no userinfo, no query, no fragment."""
    if isinstance(url, tuple):  # httpcore's form: (scheme, host, port, target)
        scheme, host, port, target = url
        authority = host.decode("ascii") + (f":{port}" if port is not None else "")
        url = f"{scheme.decode('ascii')}://{authority}{target.decode('ascii')}"
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _strip(span: trace.Span, request: RequestInfo) -> None:
    if span.is_recording():
        span.set_attribute(URL_FULL, safe_url(request.url))


async def _strip_async(span: trace.Span, request: RequestInfo) -> None:
    _strip(span, request)


def _opt_in(signal: str) -> None:
    current = [v.strip() for v in os.environ.get(OPT_IN, "").split(",") if v.strip()]
    if not any(v == signal or v.startswith(f"{signal}/") for v in current):
        os.environ[OPT_IN] = ",".join([*current, signal])


def _sanitize_credentials() -> None:
    current = [v.strip() for v in os.environ.get(SANITIZE, "").split(",") if v.strip()]
    os.environ[SANITIZE] = ",".join(dict.fromkeys([*current, *CREDENTIAL_HEADERS]))


def instrument(provider: TracerProvider) -> None:
    """Trace every httpx and redis client of this process with `provider` (once)."""
    _opt_in("http")
    _opt_in("database")
    _sanitize_credentials()
    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(
            tracer_provider=provider, request_hook=_strip, async_request_hook=_strip_async
        )
    redis_instrumentor = RedisInstrumentor()
    if not redis_instrumentor.is_instrumented_by_opentelemetry:
        redis_instrumentor.instrument(tracer_provider=provider)


def uninstrument() -> None:
    """Undo `instrument` (tests)."""
    for instrumentor in (HTTPXClientInstrumentor(), RedisInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


class ClientSpansInStages(sampling.Sampler):
    """Drops a CLIENT span that starts a trace; `root` decides every other span."""

    def __init__(self, root: sampling.Sampler) -> None:
        self.root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        if kind is SpanKind.CLIENT:
            parent = trace.get_current_span(parent_context).get_span_context()
            if not parent.is_valid:
                return sampling.SamplingResult(sampling.Decision.DROP)
        return self.root.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"ClientSpansInStages{{{self.root.get_description()}}}"


def sampler() -> sampling.Sampler:
    """The sampler `OTEL_TRACES_SAMPLER(_ARG)` names (the SDK's own reading of them), with
    CLIENT spans kept to the traces of the stages."""
    root: Any = sampling._get_from_env_or_default()
    return ClientSpansInStages(root)
