"""The sandboxes' shared route helpers (`sandbox.routes`, `sandbox.base`): a refusal raised in
a handler is answered with its response, as the middlewares around it see it; a registered
error type in the tool's shape; anything else stays a server error. PagerDuty's classic
pagination, one helper for every list (a bad `limit` is a 400 in PagerDuty's shape). And a
sandbox's `python -m` entry point from its table of options (`serve.sandbox_main`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_sync.sandbox import serve
from incident_sync.sandbox.base import bad, found, object_body, record_and_body
from incident_sync.sandbox.datadog.app import DatadogConfig
from incident_sync.sandbox.datadog.app import build_app as build_dd
from incident_sync.sandbox.faults import with_api_faults
from incident_sync.sandbox.pagerduty.app import build_app as build_pd
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.routes import Refusal, Routes
from incident_sync.sandbox.slack.app import SlackConfig
from incident_sync.sandbox.slack.app import build_app as build_slack
from tests.unit.connectors.sandbox_harness import Harness, running

Client = TestClient[web.Request, web.Application]
RECORDS = {"r1": {"id": "r1"}}


class ToolError(Exception):
    pass


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    routes = Routes().answering(ToolError, lambda exc: bad(f"tool: {exc}", 409))

    @routes.get("/api/records/{id}")
    @routes.get("/api/v2/records/{id}")  # stacked: both answer refusals
    async def show(request: web.Request) -> web.Response:
        record = found(RECORDS.get(request.match_info["id"]), lambda: bad("no such record", 404))
        return web.json_response(record)

    @routes.post("/api/records")
    async def create(request: web.Request) -> web.Response:
        body = await object_body(request, lambda: bad("not an object"))
        if "boom" in body:
            raise RuntimeError("a bug, not a refusal")
        if "tool" in body:
            raise ToolError(body["tool"])
        raise Refusal(web.json_response({"made": body}, status=201))

    @routes.post("/api/records/{id}/edit")
    async def edit(request: web.Request) -> web.Response:
        record, body = await record_and_body(
            request, RECORDS.get(request.match_info["id"]), "record"
        )
        return web.json_response({**record, **body})

    app = web.Application()
    app.add_routes(routes)
    with_api_faults(app, ("/api/",), lambda status: bad("fault", status))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_refusals_are_answered_and_the_middlewares_see_them(client: Client) -> None:
    for path in ("/api/records/nope", "/api/v2/records/nope"):
        r = await client.get(path)
        assert (r.status, await r.json()) == (404, {"error": "no such record"})
    r = await client.get("/api/records/r1")
    assert (r.status, await r.json()) == (200, {"id": "r1"})
    r = await client.post("/api/records", data=b"[1]")
    assert (r.status, await r.json()) == (400, {"error": "not an object"})
    r = await client.post("/api/records", json={"a": 1})
    assert (r.status, await r.json()) == (201, {"made": {"a": 1}})
    r = await client.post("/api/records", json={"tool": "taken"})
    assert (r.status, await r.json()) == (409, {"error": "tool: taken"})
    assert (await client.post("/api/records", json={"boom": 1})).status == 500
    log = (await (await client.get("/_sandbox/api-faults")).json())["requests"]
    assert [e["status"] for e in log][:6] == [404, 404, 200, 400, 201, 409]


async def test_record_and_body_refuses_a_missing_record_then_a_bad_body(client: Client) -> None:
    refusal = "no such record, or the body is not a JSON object"
    r = await client.post("/api/records/nope/edit", json={"a": 1})
    assert (r.status, await r.json()) == (404, {"error": refusal})
    r = await client.post("/api/records/r1/edit", data=b'"text"')
    assert (r.status, await r.json()) == (400, {"error": refusal})
    r = await client.post("/api/records/r1/edit", json={"a": 1})
    assert (r.status, await r.json()) == (200, {"id": "r1", "a": 1})


PD_HEADERS = {
    "Authorization": "Token token=sandbox-pd-token",
    "From": "incident-sync@example.com",
}


@pytest.fixture
async def pd() -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    def build(hook: str) -> web.Application:
        return build_pd(PagerDutyConfig(webhook_url=hook, webhook_backoff_s=(0.05,)))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as client:
        yield client, harness


async def test_pagerduty_lists_page_alike_and_refuse_a_bad_limit(
    pd: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = pd
    service = {"id": "PSVC001", "type": "service_reference"}
    for n in range(3):
        body = {"incident": {"type": "incident", "title": f"t{n}", "service": service}}
        assert (await client.post("/incidents", json=body, headers=PD_HEADERS)).status_code == 201
    for path, name in (("/incidents", "incidents"), ("/log_entries", "log_entries")):
        r = await client.get(path, params={"limit": 2, "offset": 0}, headers=PD_HEADERS)
        page = r.json()
        assert (page["limit"], page["offset"], page["more"], page["total"]) == (2, 0, True, None)
        assert len(page[name]) == 2
        r = await client.get(path, params={"offset": 2, "total": "true"}, headers=PD_HEADERS)
        page = r.json()
        assert (page["limit"], page["more"], page["total"]) == (25, False, len(page[name]) + 2)
        r = await client.get(path, params={"limit": "many"}, headers=PD_HEADERS)
        assert r.status_code == 400, (path, r.status_code)
        error = r.json()["error"]
        assert (error["message"], error["code"]) == ("Invalid Input Provided", 2001)
        assert "many" in error["errors"][0]


@dataclass(frozen=True)
class _Config:
    users: tuple[tuple[str, str], ...] = (("default", "secret"),)
    clients: dict[str, str] = field(default_factory=lambda: {"c0": "s0"})
    project_key: str = "OPS"
    limit: int | None = None
    strict: bool = False
    webhook_url: str = ""


def _main_config(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[_Config, int]:
    """The config `sandbox_main` builds from `argv`, and the port it would serve on."""
    built: list[_Config] = []
    served: list[int] = []
    monkeypatch.setattr(serve, "run", lambda app, host, port: served.append(port))

    def build(config: _Config) -> web.Application:
        built.append(config)
        return web.Application()

    main = serve.sandbox_main(
        "A sandbox.",
        "incident_sync.sandbox.example",
        _Config,
        build,
        [
            serve.Option("--user", "users", repeat=serve.credential_pair("name", "password")),
            serve.Option("--client", "clients", repeat=lambda t: tuple(t.split("=")), collect=dict),
            serve.Option("--project", "project_key"),
            serve.Option("--limit", type=int),
            serve.Option("--strict", switch=True),
        ],
    )
    main(argv)
    return built[0], served[0]


def test_a_sandbox_main_sets_each_option_s_field_and_keeps_the_other_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _main_config(monkeypatch, []) == (_Config(), 0)
    config, port = _main_config(
        monkeypatch,
        [
            *("--user", "a:1", "--user", "b:2", "--client", "x=y", "--project", "ABC"),
            *("--limit", "5", "--strict", "--webhook-url", "http://hook", "--port", "8080"),
        ],
    )
    assert port == 8080
    assert config == _Config(
        users=(("a", "1"), ("b", "2")),
        clients={"x": "y"},
        project_key="ABC",
        limit=5,
        strict=True,
        webhook_url="http://hook",
    )
    with pytest.raises(SystemExit):
        _main_config(monkeypatch, ["--user", "no-colon"])


async def test_slack_answers_a_malformed_call_as_slack_does_not_with_a_500() -> None:
    """Slack's Web API answers 200 with `ok: false` and the error's name."""
    async with (
        running(lambda _: build_slack()) as slack,
        httpx.AsyncClient(
            base_url=slack.url, headers={"Authorization": f"Bearer {SlackConfig().bot_token}"}
        ) as client,
    ):
        r = await client.post(
            "/api/chat.postMessage",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()) == (200, {"ok": False, "error": "invalid_json"})
        for args in ({"limit": "many"}, {"latest": "soon"}, {"cursor": "next"}):
            r = await client.get(
                "/api/conversations.history", params={"channel": "#incidents", **args}
            )
            assert (r.status_code, r.json()) == (200, {"ok": False, "error": "invalid_arguments"})


async def test_datadog_s_responder_edit_refuses_a_body_that_is_not_an_object() -> None:
    async with running(lambda hook: build_dd(DatadogConfig(webhook_url=hook))) as dd:
        config = DatadogConfig()
        headers = {"DD-API-KEY": config.api_key, "DD-APPLICATION-KEY": config.app_key}
        async with httpx.AsyncClient(base_url=dd.url) as client:
            body = {"data": {"type": "incidents", "attributes": {"title": "t"}}}
            made = await client.post("/api/v2/incidents", json=body, headers=headers)
            assert made.status_code == 201, made.text
            path = f"/_sandbox/incidents/{made.json()['data']['id']}"
            for content in (b"{not json", b"[1]"):
                r = await client.patch(path, content=content)
                assert (r.status_code, r.json()) == (
                    400,
                    {"errors": ["the body must be a JSON object"]},
                )
