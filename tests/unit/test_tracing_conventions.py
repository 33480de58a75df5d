"""The spans' names and attributes follow OpenTelemetry's semantic conventions (messaging for
the Kafka stages, HTTP for the aiohttp services), recorded with the SDK's in-memory exporter:
`process <topic>` / `send <topic>` with the messaging.* attributes, the retry relay's pair of
spans, `POST /webhooks/{integration_id}` with the http.* ones and a caller's traceparent
continued, and the sampler that keeps client calls inside the stages' traces."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import SpanKind, StatusCode

from incident_sync.runtime import instrumentation, tracing
from incident_sync.runtime.httpspans import server_spans

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield memory
    provider.shutdown()


def attrs(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def hexid(span_id: int) -> str:
    return format(span_id, "016x")


# -- messaging ---------------------------------------------------------------------------------
def test_a_stage_processing_a_message_is_a_process_span(exporter: InMemorySpanExporter) -> None:
    message = tracing.Consumed(
        topic="sync.inbound",
        partition=3,
        offset=42,
        key=b"default:prod-snow:abc",
        headers=[("origin", b"user"), ("traceparent", CALLER.encode())],
        group="incident-sync-outbound",
        size=120,
    )
    with tracing.stage("gate", message=message, integration_id="prod-snow"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "process sync.inbound"
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None and span.parent.is_remote
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert hexid(span.parent.span_id) == "b7ad6b7169203331"
    assert attrs(span) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "sync.inbound",
        "messaging.destination.partition.id": "3",
        "messaging.kafka.offset": 42,
        "messaging.kafka.message.key": "default:prod-snow:abc",
        "messaging.consumer.group.name": "incident-sync-outbound",
        "messaging.message.body.size": 120,
        "sync.stage": "gate",
        "sync.integration_id": "prod-snow",
    }


def test_a_key_that_is_not_text_is_left_out(exporter: InMemorySpanExporter) -> None:
    with tracing.stage("gate", message=tracing.Consumed("sync.inbound", key=b"\xff\xfe")):
        pass
    (span,) = exporter.get_finished_spans()
    assert "messaging.kafka.message.key" not in attrs(span)


def test_a_publish_is_a_send_span_whose_context_the_headers_carry(
    exporter: InMemorySpanExporter,
) -> None:
    with tracing.stage("gate", message=tracing.Consumed("sync.inbound")):
        with tracing.sending("sync.changes", b"default:01HX"):
            headers = dict(tracing.kafka_headers())
        with tracing.sending("sync.inbound", None, count=3):
            pass
    send, batch, process = exporter.get_finished_spans()
    assert send.name == "send sync.changes" and send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == process.context.span_id
    assert attrs(send) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "sync.changes",
        "messaging.kafka.message.key": "default:01HX",
    }
    # The next stage's parent is the send span.
    assert headers["traceparent"].decode().split("-")[2] == hexid(send.context.span_id)
    assert attrs(batch)["messaging.batch.message_count"] == 3
    assert "messaging.kafka.message.key" not in attrs(batch)


def test_a_failed_publish_is_an_error_on_its_send_span(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(TimeoutError), tracing.sending("sync.changes"):
        raise TimeoutError("no answer from broker-3 for key default:prod-snow:abc")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    # The status names the type; the message is on the exception event only.
    assert span.status.description == "TimeoutError"
    assert attrs(span)["error.type"] == "TimeoutError"


def test_no_send_span_while_tracing_is_off_and_no_trace_runs() -> None:
    assert tracing._provider is None
    with tracing.sending("sync.inbound", b"k") as span:
        assert not span.is_recording()
        assert tracing.kafka_headers() == []


def test_the_relay_processes_and_sends_in_the_record_s_trace(
    exporter: InMemorySpanExporter,
) -> None:
    record = tracing.Consumed(
        topic="sync.retry.0",
        partition=1,
        offset=7,
        key=b"default:prod-snow:abc",
        headers=[("traceparent", CALLER.encode()), ("not-before", b"1700000000000")],
        group="incident-sync-retry",
    )
    relayed = tracing.Relayed(record, "sync.outbound", "relay")
    relayed.end()
    send, process = exporter.get_finished_spans()
    assert process.name == "process sync.retry.0" and process.kind is SpanKind.CONSUMER
    assert format(process.context.trace_id, "032x") == TRACE_ID
    assert attrs(process)["messaging.consumer.group.name"] == "incident-sync-retry"
    assert attrs(process)["sync.stage"] == "relay"
    assert send.name == "send sync.outbound" and send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == process.context.span_id
    # The forwarded record keeps its own headers and carries the send span instead.
    headers = dict(relayed.headers)
    assert headers["not-before"] == b"1700000000000"
    assert headers["traceparent"].decode().split("-")[1:3] == [
        TRACE_ID,
        hexid(send.context.span_id),
    ]
    assert len(relayed.headers) == 2


def test_the_relay_passes_the_headers_on_untouched_while_tracing_is_off() -> None:
    headers = [("traceparent", CALLER.encode()), ("retry-to", b"sync.inbound")]
    relayed = tracing.Relayed(tracing.Consumed("sync.retry.0", headers=headers), "x", "relay")
    relayed.end()
    assert relayed.headers == headers


def test_an_error_ends_both_relay_spans_as_errors(exporter: InMemorySpanExporter) -> None:
    relayed = tracing.Relayed(tracing.Consumed("sync.retry.0"), "sync.outbound", "relay")
    relayed.end(RuntimeError("refused"))
    relayed.end()  # once only
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.ERROR for s in spans)


# -- HTTP servers ------------------------------------------------------------------------------
async def _webhook(request: web.Request) -> web.Response:
    carried = dict(tracing.kafka_headers())
    return web.json_response({"traceparent": carried.get("traceparent", b"").decode()}, status=202)


async def _broken(request: web.Request) -> web.Response:
    return web.json_response({"error": "internal"}, status=500)


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[server_spans()])
    app.router.add_post("/webhooks/{integration_id}", _webhook)
    app.router.add_post("/broken", _broken)
    app.router.add_get("/health", _ok)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_request_is_a_server_span_named_by_its_route(
    exporter: InMemorySpanExporter, client: TestClient[web.Request, web.Application]
) -> None:
    response = await client.post(
        "/webhooks/prod-snow?token=not-recorded", headers={"User-Agent": "ServiceNow/1"}
    )
    assert response.status == 202
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST /webhooks/{integration_id}"
    assert span.kind is SpanKind.SERVER
    assert span.parent is None
    assert attrs(span) == {
        "http.request.method": "POST",
        "url.path": "/webhooks/prod-snow",
        "url.scheme": "http",
        "http.route": "/webhooks/{integration_id}",
        "network.protocol.version": "1.1",
        "client.address": "127.0.0.1",
        "user_agent.original": "ServiceNow/1",
        "http.response.status_code": 202,
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_a_caller_s_traceparent_is_continued(
    exporter: InMemorySpanExporter, client: TestClient[web.Request, web.Application]
) -> None:
    response = await client.post(
        "/webhooks/prod-snow", headers={"traceparent": CALLER, "baggage": "user=mallory"}
    )
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and hexid(span.parent.span_id) == "b7ad6b7169203331"
    # What the request publishes carries the request's span, and no baggage of the caller's.
    carried = (await response.json())["traceparent"]
    assert carried.split("-")[1:3] == [TRACE_ID, hexid(span.context.span_id)]


async def test_with_tracing_off_a_caller_s_trace_still_travels_on(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert tracing._provider is None
    response = await client.post("/webhooks/prod-snow", headers={"traceparent": CALLER})
    assert (await response.json())["traceparent"] == CALLER
    response = await client.post("/webhooks/prod-snow")
    assert (await response.json())["traceparent"] == ""


async def test_a_5xx_is_an_error_a_4xx_is_not_and_probes_are_not_traced(
    exporter: InMemorySpanExporter, client: TestClient[web.Request, web.Application]
) -> None:
    assert (await client.post("/broken")).status == 500
    assert (await client.post("/nowhere")).status == 404
    assert (await client.request("PURGE", "/webhooks/x")).status == 405
    assert (await client.get("/health")).status == 200
    broken, missing, odd = exporter.get_finished_spans()
    assert broken.name == "POST /broken"
    assert broken.status.status_code is StatusCode.ERROR
    assert attrs(broken)["error.type"] == "500"
    # No route matched: the method alone, no http.route; a 4xx leaves the status unset.
    assert missing.name == "POST" and "http.route" not in attrs(missing)
    assert attrs(missing)["http.response.status_code"] == 404
    assert missing.status.status_code is StatusCode.UNSET
    assert odd.name == "HTTP"
    assert attrs(odd)["http.request.method"] == "_OTHER"
    assert attrs(odd)["http.request.method_original"] == "PURGE"


# -- sampling ----------------------------------------------------------------------------------
def test_client_spans_are_recorded_inside_a_trace_only() -> None:
    sampler = instrumentation.ClientSpansInStages(ALWAYS_ON)
    assert sampler.should_sample(None, 1, "PING", SpanKind.CLIENT).decision is Decision.DROP
    kept = Decision.RECORD_AND_SAMPLE
    assert sampler.should_sample(None, 1, "POST /x", SpanKind.SERVER).decision is kept
    assert sampler.should_sample(None, 1, "reconcile", SpanKind.INTERNAL).decision is kept
    provider = TracerProvider(sampler=sampler)
    with provider.get_tracer("t").start_as_current_span("process sync.outbound"):
        child = sampler.should_sample(None, 1, "POST", SpanKind.CLIENT)
    assert child.decision is Decision.RECORD_AND_SAMPLE
    assert not trace.get_current_span().get_span_context().is_valid
    provider.shutdown()


def test_the_sampler_wraps_the_one_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    sampler = instrumentation.sampler()
    assert sampler.should_sample(None, 1, "POST /x", SpanKind.SERVER).decision is Decision.DROP
    assert "AlwaysOff" in sampler.get_description()
