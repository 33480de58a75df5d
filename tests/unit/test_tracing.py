"""runtime.tracing with the SDK's in-memory span exporter: stages chained through Kafka
headers, the sync.* attributes, errors on the span, trace ids in the JSON logs, and which
exporters the OTEL_* environment turns on."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from incident_sync.runtime import tracing
from incident_sync.runtime.logs import JsonFormatter


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The stages record into memory for this test only (the global provider stays unset,
    so other tests in this process see no spans)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield memory
    provider.shutdown()


def test_tracing_off_makes_no_span_but_times_and_passes_a_context_on() -> None:
    """No provider: a stage makes no span and its headers carry nothing, yet it is timed; a
    context arriving in the headers still travels on to the next topic."""
    assert tracing._provider is None
    before = _count()
    with tracing.stage("untraced", integration_id="incidentio") as span:
        assert not span.is_recording()
        assert tracing.kafka_headers() == []
    assert _count() == before + 1
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.stage("untraced", [("traceparent", parent.encode())]):
        (name, value), *_ = tracing.kafka_headers()
    assert name == "traceparent" and value.decode().split("-")[1] == parent.split("-")[1]


def _count() -> float:
    value = REGISTRY.get_sample_value("incident_sync_stage_seconds_count", {"stage": "untraced"})
    return value or 0.0


def test_stages_chain_through_kafka_headers(exporter: InMemorySpanExporter) -> None:
    with tracing.stage("ingress", integration_id="incidentio", direction="outbound"):
        headers = [("origin", b"user"), *tracing.kafka_headers()]
    assert [k for k, _ in headers] == ["origin", "traceparent"]
    with tracing.stage("gate", headers, incident_id="01HX", external_id="") as span:
        downstream = dict(tracing.kafka_headers())
        tracing.set_attributes(span, integration_type="servicenow")
    with tracing.stage("delivery", downstream, external_id="abc"):
        pass
    ingress, gate, delivery = exporter.get_finished_spans()
    assert [s.name for s in (ingress, gate, delivery)] == ["ingress", "gate", "delivery"]
    assert ingress.parent is None
    assert gate.parent is not None and gate.parent.span_id == ingress.context.span_id
    assert delivery.parent is not None and delivery.parent.span_id == gate.context.span_id
    assert len({s.context.trace_id for s in (ingress, gate, delivery)}) == 1
    assert dict(ingress.attributes or {}) == {
        "sync.stage": "ingress",
        "sync.integration_id": "incidentio",
        "sync.direction": "outbound",
    }
    # Known values only: an empty external id is left out.
    assert dict(gate.attributes or {}) == {
        "sync.stage": "gate",
        "sync.incident_id": "01HX",
        "sync.integration_type": "servicenow",
    }


def test_no_headers_start_a_new_trace(exporter: InMemorySpanExporter) -> None:
    with tracing.stage("gate", [("origin", b"user")]):
        pass
    with tracing.stage("gate", None):
        pass
    first, second = exporter.get_finished_spans()
    assert first.parent is None and second.parent is None
    assert first.context.trace_id != second.context.trace_id


def test_an_error_is_recorded_on_the_span_and_timed(exporter: InMemorySpanExporter) -> None:
    before = tracing.STAGE_SECONDS.labels("arbiter")._sum.get()
    with pytest.raises(RuntimeError), tracing.stage("arbiter"):
        raise RuntimeError("boom")
    (span,) = exporter.get_finished_spans()
    assert not span.status.is_ok
    assert [e.name for e in span.events] == ["exception"]
    assert tracing.STAGE_SECONDS.labels("arbiter")._sum.get() > before


def test_json_log_lines_carry_the_trace_and_span_ids(exporter: InMemorySpanExporter) -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "outside", (), None)
    assert "trace_id" not in orjson.loads(formatter.format(record))
    with tracing.stage("delivery"):
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "inside", (), None)
        line = orjson.loads(formatter.format(record))
    (span,) = exporter.get_finished_spans()
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")


def test_exporters_follow_the_otel_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "INCIDENT_SYNC_TRACES_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    assert tracing._exporters("svc") == []  # nothing asked for: no exporter
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    ((otlp, batched),) = tracing._exporters("svc")
    assert isinstance(otlp, OTLPSpanExporter) and batched
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing._exporters("svc") == []
    monkeypatch.setenv("INCIDENT_SYNC_TRACES_DIR", str(tmp_path))
    ((jsonl, batched),) = tracing._exporters("svc")
    assert isinstance(jsonl, tracing.JsonLinesExporter) and not batched
    jsonl.shutdown()
    assert (tmp_path / f"svc-{os.getpid()}.jsonl").exists()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.setup_tracing("svc") is False
