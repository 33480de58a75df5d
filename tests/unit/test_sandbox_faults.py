"""The sandboxes' API fault injection: counted faults, random faults by a seed, a path filter,
latency, and the request log, through a real aiohttp server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_sync.sandbox.faults import with_api_faults

Client = TestClient[web.Request, web.Application]


def _error(status: int) -> web.Response:
    return web.json_response({"error": status}, status=status)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/{name}", ok)
    with_api_faults(app, ("/api/",), _error)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_counted_faults_then_normal_service_with_retry_after(client: Client) -> None:
    await client.post(
        "/_sandbox/api-faults", json={"fail_status": 429, "fail_count": 2, "retry_after_s": 3}
    )
    first = await client.get("/api/a")
    assert first.status == 429 and first.headers["Retry-After"] == "3"
    assert (await client.get("/api/a")).status == 429
    assert (await client.get("/api/a")).status == 200
    log = (await (await client.get("/_sandbox/api-faults")).json())["requests"]
    assert [r["status"] for r in log] == [429, 429, 200]


async def test_random_faults_hit_about_the_ratio_and_only_the_named_path(
    client: Client,
) -> None:
    await client.post(
        "/_sandbox/api-faults",
        json={
            "random_ratio": 0.3,
            "random_kinds": ["500", "429"],
            "seed": 1,
            "path_contains": "rec1",
        },
    )
    statuses = [(await client.get("/api/rec1")).status for _ in range(200)]
    assert 0.2 < sum(s != 200 for s in statuses) / 200 < 0.4
    assert {s for s in statuses if s != 200} == {500, 429}
    assert [(await client.get("/api/other")).status for _ in range(20)] == [200] * 20
    await client.post("/_sandbox/api-faults", json={})
    assert [(await client.get("/api/rec1")).status for _ in range(20)] == [200] * 20


async def test_a_timeout_fault_holds_the_call_and_latency_slows_it(client: Client) -> None:
    await client.post(
        "/_sandbox/api-faults",
        json={"random_ratio": 1.0, "random_kinds": ["timeout"], "timeout_s": 0.3},
    )
    started = time.monotonic()
    assert (await client.get("/api/a")).status == 504
    assert time.monotonic() - started >= 0.3
    await client.post("/_sandbox/api-faults", json={"latency_s": 0.2})
    started = time.monotonic()
    assert (await client.get("/api/a")).status == 200
    assert time.monotonic() - started >= 0.2


async def test_bad_fault_settings_are_refused(client: Client) -> None:
    r = await client.post("/_sandbox/api-faults", json={"random_ratio": 2})
    assert r.status == 400
    r = await client.post(
        "/_sandbox/api-faults", json={"random_ratio": 0.1, "random_kinds": ["boom"]}
    )
    assert r.status == 400
