"""OpenTelemetry tracing: one span per stage, the context carried in Kafka headers.

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

Stages: `stage()` opens a span as a child of the context found in a message's headers (W3C
`traceparent`/`tracestate`), sets the `sync.*` attributes and times the stage into
`incident_sync_stage_seconds{stage}`; `kafka_headers()` gives the headers that carry the
current span to the next topic.
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
from prometheus_client import Histogram

log = logging.getLogger(__name__)

TRACER_NAME: Final = "incident-sync"
# The span attributes every stage sets (those it knows).
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

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None

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
    """Install the tracer provider the environment asks for; True when spans are recorded."""
    global _provider
    if _provider is not None:
        return True
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):  # set up before us (auto-instrumentation)
        _provider = installed
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    service = os.environ.get("OTEL_SERVICE_NAME") or default_service
    exporters = _exporters(service)
    if not exporters:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for exporter, batched in exporters:
        processor = BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("tracing on", extra={"service": service, "exporters": len(exporters)})
    return True


def shutdown_tracing() -> None:
    """Flush and close the exporters (on the way out)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def _carrier(headers: Headers) -> dict[str, str]:
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in items:
        if key in ("traceparent", "tracestate", "baggage") and value is not None:
            out[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return out


def parent_context(headers: Headers) -> Context | None:
    """The trace context a message's headers carry (None: start a new trace)."""
    carrier = _carrier(headers)
    return propagate.extract(carrier) if carrier else None


def _off() -> bool:
    """Nothing records spans in this process (`setup_tracing` adopts a global provider)."""
    return _provider is None


def kafka_headers() -> list[tuple[str, bytes]]:
    """Headers carrying the current span (empty when nothing is traced)."""
    if _off() and not trace.get_current_span().get_span_context().is_valid:
        return []  # the ingress's hot path when tracing is off: nothing to carry
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode("latin-1")) for k, v in carrier.items()]


def set_attributes(span: Span, **values: Any) -> None:
    """Set the sync.* attributes that are known (None and "" are left out)."""
    if not span.is_recording():
        return
    for key, value in values.items():
        if value is not None and value != "":
            span.set_attribute(f"sync.{key}", str(value))


@contextlib.contextmanager
def stage(
    name: str,
    headers: Headers = None,
    *,
    kind: SpanKind = SpanKind.CONSUMER,
    **attributes: Any,
) -> Iterator[Span]:
    """A span for one stage's work on one message, timed into incident_sync_stage_seconds.

    With tracing off and no trace context to pass on, no span is made at all: a no-op span
    still costs ~10 us of OpenTelemetry API calls, a third of the ingress's own work.
    (With a context in the headers the no-op span is kept: it carries that context on.)
    """
    timer = _stage_timer(name)
    started = time.perf_counter()
    if _off() and not _carrier(headers):
        try:
            yield trace.INVALID_SPAN
        finally:
            timer.observe(time.perf_counter() - started)
        return
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=_provider)
    try:
        with tracer.start_as_current_span(
            name, context=parent_context(headers), kind=kind, record_exception=False
        ) as span:
            set_attributes(span, **attributes)
            try:
                yield span
            except BaseException as exc:
                if span.is_recording() and not isinstance(exc, GeneratorExit):
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
    finally:
        timer.observe(time.perf_counter() - started)


@functools.cache
def _stage_timer(name: str) -> Any:
    return STAGE_SECONDS.labels(name)


def direction(source_is_platform: bool) -> str:
    """`outbound`: a platform change on its way to the tools; `inbound`: a tool's change."""
    return "outbound" if source_is_platform else "inbound"
