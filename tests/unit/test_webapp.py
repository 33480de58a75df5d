"""The aiohttp service base (`runtime.webapp`, `runtime.weberrors`) on a real aiohttp test
server: /health, /ready of named checks, /metrics through prometheus_client's exposition
(OpenMetrics when asked, gzip when accepted), and every kind of error as JSON."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import Counter

from incident_sync.runtime import tracing
from incident_sync.runtime.webapp import HttpServer, service_app
from incident_sync.runtime.weberrors import ApiError

Client = TestClient[web.Request, web.Application]

PROBES = Counter("incident_sync_test_webapp_probes", "A counter of this test module's.")
PROBES.inc(3)
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


async def _ok() -> str | None:
    return None


async def _down() -> str | None:
    return "redis unreachable (ConnectionError)"


async def _refused(request: web.Request) -> web.Response:
    raise ApiError(409, "conflict", "already running", headers={"Retry-After": "3"})


async def _reads(request: web.Request) -> web.Response:
    return web.json_response({"read": len(await request.read())})


async def _bug(request: web.Request) -> web.Response:
    raise RuntimeError("password=hunter2 in a traceback")


def _app(**kwargs: object) -> web.Application:
    app = service_app(
        {"broker": _ok, "redis": _down},
        detail=lambda: {"partitions": 0},
        client_max_size=64,
        **kwargs,  # type: ignore[arg-type]
    )
    app.router.add_post("/refused", _refused)
    app.router.add_post("/reads", _reads)
    app.router.add_get("/bug", _bug)
    return app


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(_app())) as c:
        yield c


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield memory
    provider.shutdown()


async def test_health_answers_while_a_check_fails(client: Client) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_ready_names_the_check_that_failed_and_adds_the_detail(client: Client) -> None:
    resp = await client.get("/ready")
    assert resp.status == 503
    assert await resp.json() == {
        "error": "not_ready",
        "reason": "redis: redis unreachable (ConnectionError)",
        "checks": {"broker": "ok", "redis": "redis unreachable (ConnectionError)"},
        "partitions": 0,
    }


async def test_ready_when_every_check_passes() -> None:
    app = service_app({"broker": _ok, "redis": _ok})
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/ready")
        assert resp.status == 200
        assert await resp.json() == {"status": "ready", "checks": {"broker": "ok", "redis": "ok"}}


async def test_metrics_text_by_default_openmetrics_when_the_scraper_asks(client: Client) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert "incident_sync_test_webapp_probes_total 3.0" in text
    assert "# EOF" not in text
    resp = await client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = await resp.text()
    assert "incident_sync_test_webapp_probes_total 3.0" in text
    assert text.endswith("# EOF\n")


async def test_metrics_gzipped_when_the_scraper_accepts_it(client: Client) -> None:
    resp = await client.get("/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert b"incident_sync_test_webapp_probes_total" in gzip.decompress(await resp.read())


async def test_metrics_selects_families_by_name(client: Client) -> None:
    resp = await client.get("/metrics", params={"name[]": "incident_sync_test_webapp_probes_total"})
    text = await resp.text()
    assert "incident_sync_test_webapp_probes_total 3.0" in text
    assert "python_gc" not in text and "process_" not in text


async def test_an_api_error_answers_its_status_code_reason_and_headers(client: Client) -> None:
    resp = await client.post("/refused")
    assert resp.status == 409
    assert resp.headers["Retry-After"] == "3"
    assert await resp.json() == {"error": "conflict", "reason": "already running"}


async def test_aiohttp_s_own_refusals_are_json(client: Client) -> None:
    resp = await client.get("/nowhere")
    assert resp.status == 404
    assert await resp.json() == {"error": "not_found", "reason": "Not Found"}
    resp = await client.delete("/refused")
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST"
    assert await resp.json() == {"error": "method_not_allowed", "reason": "Method Not Allowed"}


async def test_a_405_names_the_methods_the_service_dispatches_itself() -> None:
    app = _app(allowed_methods=lambda path: ["GET", "PUT"] if path == "/refused" else [])
    async with TestClient(TestServer(app)) as c:
        resp = await c.delete("/refused")
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET,PUT"


async def test_a_body_over_client_max_size_is_a_413_in_json(client: Client) -> None:
    assert (await (await client.post("/reads", data=b"x" * 64)).json()) == {"read": 64}
    resp = await client.post("/reads", data=b"x" * 65)
    assert resp.status == 413
    assert resp.headers["Connection"] == "close"
    assert await resp.json() == {"error": "too_large", "reason": "request body too large"}


async def test_a_bug_is_a_500_with_a_request_id_logged_with_its_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/bug")
    assert resp.status == 500
    body = await resp.json()
    assert "hunter2" not in await resp.text()
    rid = body.pop("request_id")
    assert body == {"error": "internal", "reason": "internal error; it has been logged"}
    assert len(rid) == 32 and int(rid, 16)
    (record,) = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.request_id == rid  # type: ignore[attr-defined]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])
    again = await (await client.get("/bug")).json()
    assert again["request_id"] != rid


async def test_a_traced_bug_s_request_id_is_its_trace_id(
    exporter: InMemorySpanExporter, client: Client
) -> None:
    resp = await client.get("/bug")
    assert resp.status == 500
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /bug"
    assert (await resp.json())["request_id"] == format(span.context.trace_id, "032x")


async def test_the_server_serves_an_app_on_a_real_port_until_stopped() -> None:
    server = HttpServer(_app(), "127.0.0.1", 0)
    await server.start()
    ((host, port),) = server.addresses
    url = f"http://{host}:{port}/health"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200
        await server.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url)
