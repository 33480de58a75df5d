"""httpx calls as child spans of the stage that makes them, through OpenTelemetry's httpx
instrumentation as `runtime.instrumentation` sets it up (against a real aiohttp server in this
process): the current HTTP conventions, no query string or userinfo in `url.full`, the values
of credential headers redacted even when an operator asks to capture every header, and no span
for a call outside any stage. (Redis calls: tests/integration/test_traces_otlp.py, on a real
redis-server.)"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from incident_sync.runtime import instrumentation, tracing


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Instrumented with a provider of this test's (the semantic-convention mode is read
    again: the environment `instrument` sets is what counts)."""
    for name in (instrumentation.OPT_IN, instrumentation.SANITIZE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", ".*")
    monkeypatch.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=instrumentation.sampler())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    instrumentation.instrument(provider)
    yield memory
    instrumentation.uninstrument()
    provider.shutdown()


async def _answer(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/users/search", _answer)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield str(test_server.make_url("")).rstrip("/")


async def test_a_tool_call_is_a_client_span_of_its_stage_with_no_secret(
    exporter: InMemorySpanExporter, server: str
) -> None:
    url = server.replace("http://", "http://agent:hunter2@") + "/api/users/search"
    async with httpx.AsyncClient() as client:
        await client.get(f"{server}/api/users/search")  # outside any stage: no span
        with tracing.stage("delivery", message=tracing.Consumed("sync.outbound")):
            response = await client.get(
                url,
                params={"query": "jane@example.com"},
                headers={"Authorization": "Bearer s3cret", "DD-API-KEY": "dd-s3cret"},
            )
    assert response.status_code == 200
    call, stage = exporter.get_finished_spans()
    assert stage.name == "process sync.outbound"
    assert call.kind is SpanKind.CLIENT and call.name == "GET"
    assert call.parent is not None and call.parent.span_id == stage.context.span_id
    found = dict(call.attributes or {})
    host, port = server.removeprefix("http://").split(":")
    assert found == {
        **found,
        "http.request.method": "GET",
        "url.full": f"{server}/api/users/search",
        "server.address": host,
        "server.port": int(port),
        "http.response.status_code": 200,
    }
    # Captured (".*") but redacted: the credentials and the Basic auth the userinfo became.
    assert found["http.request.header.authorization"] == ("[REDACTED]",)
    assert found["http.request.header.dd_api_key"] == ("[REDACTED]",)
    text = repr(found)
    for secret in ("s3cret", "hunter2", "jane@example.com", "query="):
        assert secret not in text


def test_the_url_loses_userinfo_query_and_fragment() -> None:
    assert (
        instrumentation.safe_url("https://u:p@example.com:8443/a/b?token=x#frag")
        == "https://example.com:8443/a/b"
    )
    assert (
        instrumentation.safe_url((b"https", b"example.com", None, b"/rest/api/3/search?jql=x"))
        == "https://example.com/rest/api/3/search"
    )


def test_the_conventions_asked_for_keep_what_the_operator_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(instrumentation.OPT_IN, "http/dup")
    monkeypatch.setenv(instrumentation.SANITIZE, "x-custom")
    instrumentation._opt_in("http")
    instrumentation._opt_in("database")
    instrumentation._sanitize_credentials()
    assert os.environ[instrumentation.OPT_IN] == "http/dup,database"
    assert os.environ[instrumentation.SANITIZE].split(",")[:2] == ["x-custom", "authorization"]
