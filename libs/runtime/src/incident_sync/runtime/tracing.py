"""OpenTelemetry tracing: one span per stage and message, the context carried in Kafka headers.

`setup_tracing()` reads the standard OTEL_* variables once per process:
- `OTEL_SDK_DISABLED=true`, or no exporter asked for: no provider is installed and spans are
  the API's no-op ones (a stage costs its histogram observation only);
- `OTEL_TRACES_EXPORTER` = `otlp` (OTLP over HTTP/protobuf, `OTEL_EXPORTER_OTLP_*`), `console`,
  or a comma-separated list; `otlp` is implied when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
  `..._TRACES_ENDPOINT`) is set and `OTEL_TRACES_EXPORTER` is not; `none` exports nothing;
- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` as the SDK
  reads them;
- `INCIDENT_SYNC_TRACES_DIR` (tests, debugging): every finished span is also written, one
  JSON object per line, to `<dir>/<service>-<pid>.jsonl`.
With a provider installed, httpx and redis calls are traced too (`runtime.instrumentation`).

Spans follow the OpenTelemetry semantic conventions (`runtime.messaging` for the Kafka ones,
`runtime.httpspans` for the HTTP servers): `stage()` with the `Consumed` message opens the
CONSUMER span `process <topic>` as a child of the context in the message's headers (W3C
`traceparent`/`tracestate`), `sending()` the PRODUCER span `send <topic>` whose context
`kafka_headers()` then carries to the next topic. Each stage also sets the `sync.*` attributes
it knows and is timed into `incident_sync_stage_seconds{stage}`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from prometheus_client import Histogram

from incident_sync.runtime import instrumentation, messaging
from incident_sync.runtime.messaging import Consumed

log = logging.getLogger(__name__)

TRACER_NAME: Final = "incident-sync"
# The span attributes every stage sets (those it knows).
STAGE: Final = "sync.stage"
INTEGRATION_ID: Final = "sync.integration_id"
INTEGRATION_TYPE: Final = "sync.integration_type"
DIRECTION: Final = "sync.direction"
INCIDENT_ID: Final = "sync.incident_id"
EXTERNAL_ID: Final = "sync.external_id"

STAGE_SECONDS: Final = Histogram(
    "incident_sync_stage_seconds",
    "Time spent in one stage for one message: ingress (verify, parse, publish), gate, "
    "arbiter, delivery (including the tool's API call).",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

Headers = messaging.Headers
__all__ = ["Consumed", "Headers", "sending", "setup_tracing", "stage"]

# The provider setup_tracing() installed (None: the API's global one, a no-op unless set).
_provider: TracerProvider | None = None


class JsonLinesExporter(SpanExporter):
    """Writes each span as one JSON line (for tests and local debugging, not production)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            for span in spans:
                self._file.write(span.to_json(indent=None) + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def _exporters(service: str) -> list[tuple[SpanExporter, bool]]:
    """(exporter, batched) pairs the environment asks for."""
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n]
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not names and endpoint:
        names = ["otlp"]
    out: list[tuple[SpanExporter, bool]] = []
    for name in names:
        if name == "none":
            continue
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append((OTLPSpanExporter(), True))
        elif name == "console":
            out.append((ConsoleSpanExporter(service_name=service), False))
        else:
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", name)
    if directory := os.environ.get("INCIDENT_SYNC_TRACES_DIR"):
        path = Path(directory) / f"{service}-{os.getpid()}.jsonl"
        out.append((JsonLinesExporter(path), False))
    return out


def setup_tracing(default_service: str) -> bool:
    """Install the tracer provider the environment asks for, and trace httpx and redis calls
    with it; True when spans are recorded."""
    global _provider
    if _provider is not None:
        return True
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):  # set up before us (auto-instrumentation)
        _provider = installed
        instrumentation.instrument(installed)
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    service = os.environ.get("OTEL_SERVICE_NAME") or default_service
    exporters = _exporters(service)
    if not exporters:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), sampler=instrumentation.sampler()
    )
    for exporter, batched in exporters:
        processor = BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    instrumentation.instrument(provider)
    log.info("tracing on", extra={"service": service, "exporters": len(exporters)})
    return True


def shutdown_tracing() -> None:
    """Flush and close the exporters (on the way out)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def parent_context(headers: Headers) -> Context | None:
    """The trace context a message's headers carry (None: start a new trace)."""
    carrier = messaging.carrier(headers)
    return propagate.extract(carrier) if carrier else None


def off() -> bool:
    """Nothing records spans in this process (`setup_tracing` adopts a global provider)."""
    return _provider is None


def tracer() -> trace.Tracer:
    """The tracer of this process's stages (a no-op one while tracing is off)."""
    return trace.get_tracer(TRACER_NAME, tracer_provider=_provider)


def kafka_headers() -> list[tuple[str, bytes]]:
    """Headers carrying the current span (empty when nothing is traced)."""
    if off() and not trace.get_current_span().get_span_context().is_valid:
        return []  # the ingress's hot path when tracing is off: nothing to carry
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode("latin-1")) for k, v in carrier.items()]


def trace_id() -> str | None:
    """The current span's trace id (32 hex), None outside a traced span."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def set_attributes(span: Span, **values: Any) -> None:
    """Set the sync.* attributes that are known (None and "" are left out)."""
    if not span.is_recording():
        return
    for key, value in values.items():
        if value is not None and value != "":
            span.set_attribute(f"sync.{key}", str(value))


@contextlib.contextmanager
def span(
    name: str,
    parent: Context | None,
    kind: SpanKind,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span made current, the exception it ends with recorded on it (as ERROR)."""
    with tracer().start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,  # ours below: the type's name, not the message
    ) as current:
        try:
            yield current
        except BaseException as exc:
            if current.is_recording() and not isinstance(exc, GeneratorExit):
                current.record_exception(exc)
                current.set_attribute("error.type", type(exc).__qualname__)
                current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


@contextlib.contextmanager
def stage(
    name: str,
    headers: Headers = None,
    *,
    kind: SpanKind | None = None,
    message: Consumed | None = None,
    **attributes: Any,
) -> Iterator[Span]:
    """A span for one stage's work on one message, timed into incident_sync_stage_seconds.

    With the `message` it processes: the CONSUMER span `process <topic>` with the messaging
    attributes, the child of the context in the message's headers. Without one: a span
    named `name` (`kind`, INTERNAL by default; the reconciler's runs and polls), the child of
    `headers`' context when they carry one, else of the current span. `sync.stage` names the
    stage either way.

    With tracing off and no trace context to pass on, no span is made at all: a no-op span
    still costs ~10 us of OpenTelemetry API calls, a third of the ingress's own work.
    (With a context in the headers the no-op span is kept: it carries that context on.)
    """
    if message is not None:
        headers = message.headers
    timer = _stage_timer(name)
    started = time.perf_counter()
    if off() and not messaging.carrier(headers):
        try:
            yield trace.INVALID_SPAN
        finally:
            timer.observe(time.perf_counter() - started)
        return
    if message is not None:
        span_name, fixed = message.span_name, message.attributes()
        span_kind = kind or SpanKind.CONSUMER
    else:
        span_name, fixed, span_kind = name, {}, kind or SpanKind.INTERNAL
    try:
        with span(span_name, parent_context(headers), span_kind, {**fixed, STAGE: name}) as s:
            set_attributes(s, **attributes)
            yield s
    finally:
        timer.observe(time.perf_counter() - started)


@contextlib.contextmanager
def sending(topic: str, key: bytes | None = None, *, count: int = 1) -> Iterator[Span]:
    """The PRODUCER span `send <topic>` around a produce (`count` records, one key when
    given), the child of the current span; `kafka_headers()` inside it carry it on.

    Nothing is made while tracing is off and no trace runs (the ingress's hot path)."""
    if off() and not trace.get_current_span().get_span_context().is_valid:
        yield trace.INVALID_SPAN
        return
    with span(f"send {topic}", None, SpanKind.PRODUCER, messaging.sent(topic, key, count)) as s:
        yield s


@contextlib.contextmanager
def timed(name: str) -> Iterator[None]:
    """Time a stage into incident_sync_stage_seconds without a span of its own (the ingress:
    its span is the HTTP request's, `runtime.httpspans`)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        _stage_timer(name).observe(time.perf_counter() - started)


@functools.cache
def _stage_timer(name: str) -> Any:
    return STAGE_SECONDS.labels(name)


def direction(source_is_platform: bool) -> str:
    """`outbound`: a platform change on its way to the tools; `inbound`: a tool's change."""
    return "outbound" if source_is_platform else "inbound"


class Relayed:
    """The spans of one record a relay forwards unchanged to another topic (the retry relay):
    `process <from>` (CONSUMER, the child of the context the record came with) and its child
    `send <to>` (PRODUCER), open until `end()`. `headers` are the record's own with the send
    span's context in place of the one it came with. With tracing off there are no spans and
    the headers are the record's, so a context in them still travels on."""

    def __init__(self, message: Consumed, to: str, stage: str) -> None:
        raw = message.headers
        own = list(raw.items()) if isinstance(raw, Mapping) else list(raw or ())
        self.headers: list[tuple[str, bytes]] = own
        self._spans: list[Span] = []
        if off():
            return
        process = tracer().start_span(
            message.span_name,
            context=parent_context(message.headers),
            kind=SpanKind.CONSUMER,
            attributes={**message.attributes(), STAGE: stage},
        )
        send = tracer().start_span(
            f"send {to}",
            context=trace.set_span_in_context(process),
            kind=SpanKind.PRODUCER,
            attributes=messaging.sent(to, message.key, 1),
        )
        self._spans = [send, process]
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(send))
        self.headers = [(k, v) for k, v in own if k not in messaging.TRACE_HEADERS]
        self.headers += [(k, v.encode("latin-1")) for k, v in carrier.items()]

    def end(self, error: BaseException | None = None) -> None:
        """Close the spans (`error`: what stopped the record, recorded on both)."""
        for current in self._spans:
            if error is not None:
                current.record_exception(error)
                current.set_attribute("error.type", type(error).__qualname__)
                current.set_status(Status(StatusCode.ERROR, type(error).__name__))
            current.end()
        self._spans = []
