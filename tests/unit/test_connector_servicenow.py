"""ServiceNow connector: business-rule signatures and payloads, the Table API client (basic and
OAuth, rate limits) and the connector, against a small aiohttp stub server answering the
documentation's sample payloads."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.base import RecordNotFound, ToolError, WebhookRejected
from connectors.registry import make_connector
from connectors.servicenow import signature
from connectors.servicenow.auth import ServiceNowOAuth
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.connector import ServiceNowConnector
from syncmodel.config import IntegrationConfig
from syncmodel.events import ChangeKind
from syncmodel.mapping import Features, FieldMapping, MappingConfig

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "protocols" / "servicenow" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"vendor samples not found at {SAMPLES} (../shared beside repo)"
)

SECRET = "br-shared-secret"
SYS_ID = "a9e30c7dc61122760116894de7bcc7bd"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def config(base_url: str = "https://acme.service-now.com", **extra: Any) -> IntegrationConfig:
    raw: dict[str, Any] = {
        "id": "prod-snow",
        "type": "servicenow",
        "tenant": "acme",
        "base_url": base_url,
        "username": "incident.sync",
        "password": "pw",
        "webhook_secret": SECRET,
    }
    raw.update(extra)
    return IntegrationConfig.model_validate(raw)


def mapping(**features: bool) -> FieldMapping:
    return FieldMapping(MappingConfig(features=Features(**features)))


# -- signatures ------------------------------------------------------------------------------
def test_signature_matches_generate_mac_format() -> None:
    # The well-known HMAC-SHA256 example (hex f7bc83f4...2d1a3cd8), base64-encoded as
    # GlideCertificateEncryption.generateMac returns it; docs/servicenow-setup.md checks it.
    value = signature.sign("key", b"The quick brown fox jumps over the lazy dog")
    assert value == "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def test_signature_good_bad_rotation() -> None:
    body = b'{"event": "incident.updated"}'
    conn = ServiceNowConnector(config())
    good = signature.sign(SECRET, body)
    conn.verify(httpx.Headers({"X-ServiceNow-Signature": good}), body)
    conn.verify(httpx.Headers({"x-servicenow-signature": good}), body)  # any header case
    rotated = f"{signature.sign('old-secret', body)} {good}"
    conn.verify(httpx.Headers({"X-ServiceNow-Signature": rotated}), body)
    for bad in [signature.sign("wrong", body), good.removeprefix("sha256="), "sha256=", ""]:
        with pytest.raises(WebhookRejected) as info:
            conn.verify(httpx.Headers({"X-ServiceNow-Signature": bad}), body)
        assert info.value.status == 401
    with pytest.raises(WebhookRejected):
        conn.verify(httpx.Headers({"X-ServiceNow-Signature": good}), body + b"\n")
    with pytest.raises(WebhookRejected, match="missing"):
        conn.verify(httpx.Headers(), body)


def test_no_secret_configured_rejects() -> None:
    conn = ServiceNowConnector(config(webhook_secret=None))
    with pytest.raises(WebhookRejected, match="no webhook secret"):
        conn.verify(httpx.Headers(), b"{}")


# -- business-rule payloads ------------------------------------------------------------------
def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": "incident.updated",
        "table": "incident",
        "sys_id": SYS_ID,
        "number": "INC0010001",
        "sys_updated_on": "2024-05-06 07:08:09",
        "sys_updated_by": "jane.doe",
        "sys_mod_count": "12",
        "updated_fields": ["short_description", "incident_state", "state", "work_notes"],
        "old_values": {"short_description": "DB slow", "incident_state": "2", "state": "2"},
        "current": {
            "short_description": "DB down",
            "description": "Primary unreachable",
            "state": "6",
            "incident_state": "6",
            "priority": "1",
            "impact": "1",
            "urgency": "1",
            "severity": "1",
            "category": "database",
            "assigned_to": "",
            "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",
            "u_incident_io_id": "01FDAG4SAP5TYPT98WGR2N7W91",
            "close_code": "",
            "close_notes": "",
            "work_notes": "Failing over to the replica",
            "comments": "",
        },
    }
    body.update(overrides)
    return body


def parse(
    body: dict[str, Any] | bytes,
    *,
    mapping_: FieldMapping | None = None,
    delivery: str | None = "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    **cfg: Any,
) -> list[Any]:
    conn = ServiceNowConnector(config(**cfg), mapping=mapping_ or mapping())
    hdrs = httpx.Headers({"X-ServiceNow-Delivery": delivery} if delivery else {})
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return conn.parse(hdrs, raw)


def test_update_without_status_sync() -> None:
    (event,) = parse(payload())
    assert event.kind is ChangeKind.UPDATED
    assert event.delivery_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert event.integration_id == "prod-snow"
    assert event.tenant == "acme"
    assert event.external_id == SYS_ID
    assert event.reference == "INC0010001"
    assert event.platform_incident_id == "01FDAG4SAP5TYPT98WGR2N7W91"
    assert event.actor == "jane.doe"
    assert event.version == "0000000012"
    assert event.source_ts == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    # description did not change; incident_state is mapped but sync_status is off.
    assert {k: (v.old, v.new) for k, v in event.changes.items()} == {
        "title": ("DB slow", "DB down"),
        "comment": (None, "Failing over to the replica"),
    }
    assert all(type(k) is str for k in event.changes)


def test_update_with_status_and_severity_sync() -> None:
    body = payload(updated_fields=["incident_state", "priority"])
    body["old_values"] = {"incident_state": "2", "priority": "3"}
    (event,) = parse(body, mapping_=mapping(sync_status=True, sync_severity=True))
    assert {k: (v.old, v.new) for k, v in event.changes.items()} == {
        "status": ("open", "closed"),
        "severity": ("minor", "critical"),
    }


def test_unknown_state_code_is_not_guessed() -> None:
    body = payload(updated_fields=["incident_state"])
    body["current"]["incident_state"] = "42"
    (event,) = parse(body, mapping_=mapping(sync_status=True))
    assert event.changes == {}


def test_empty_work_note_is_not_a_change() -> None:
    body = payload(updated_fields=["work_notes"])
    body["current"]["work_notes"] = ""
    (event,) = parse(body)
    assert event.changes == {}


def test_work_notes_only_when_updated() -> None:
    (event,) = parse(payload(updated_fields=["description"]))
    assert set(event.changes) == {"description"}


def test_insert_takes_every_mapped_non_empty_field() -> None:
    body = payload(event="incident.inserted", updated_fields=["short_description"], old_values={})
    body["current"]["description"] = ""
    (event,) = parse(body, mapping_=mapping(sync_status=True))
    assert event.kind is ChangeKind.CREATED
    assert {k: v.new for k, v in event.changes.items()} == {
        "title": "DB down",
        "status": "closed",
        "comment": "Failing over to the replica",
    }


def test_update_without_updated_fields_takes_every_mapped_field() -> None:
    body = payload()
    del body["updated_fields"]
    (event,) = parse(body)
    assert set(event.changes) == {"title", "description", "comment"}


def test_delete() -> None:
    (event,) = parse(payload(event="incident.deleted"))
    assert event.kind is ChangeKind.DELETED
    assert event.changes == {}


def test_reverse_sync_off_carries_no_changes() -> None:
    (event,) = parse(payload(), mapping_=mapping(reverse_sync=False))
    assert event.changes == {}


def test_missing_delivery_header_falls_back_to_mod_count() -> None:
    (event,) = parse(payload(), delivery=None)
    assert event.delivery_id == f"{SYS_ID}:12"


def test_custom_correlation_field_and_unlinked_record() -> None:
    body = payload()
    body["current"]["correlation_id"] = "01OTHER"
    (event,) = parse(body, options={"correlation_field": "correlation_id"})
    assert event.platform_incident_id == "01OTHER"
    body["current"]["u_incident_io_id"] = ""
    (event,) = parse(body)
    assert event.platform_incident_id is None


def test_other_table_is_ignored() -> None:
    assert parse(payload(table="change_request")) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'"a string"', 400),
        (payload(event="incident.exploded"), 422),
        (payload(sys_id=""), 422),
        (payload(current=None), 422),
        (payload(sys_mod_count="twelve"), 422),
        (payload(sys_updated_on="06/05/2024 07:08"), 422),
        (payload(updated_fields="short_description"), 422),
        (payload(old_values=["x"]), 422),
    ],
)
def test_malformed_rejected(body: dict[str, Any] | bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(body)
    assert info.value.status == status
    assert info.value.reason


# -- Table API client / connector against a stub server --------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Responder = Reply | Callable[[Seen], Reply]


@dataclass
class Stub:
    """Answers queued replies per (method, path) and records every request."""

    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def on(self, method: str, path: str, *replies: Responder) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    async def handle(self, request: web.Request) -> web.Response:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        self.seen.append(seen)
        queue = self.routes.get((request.method, request.path))
        if not queue:
            error = {"error": {"message": "No Record found", "detail": "gone"}, "status": "failure"}
            return web.json_response(error, status=404)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(reply):
            reply = reply(seen)
        status, body, *extra = reply
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        ctype = "application/json" if not isinstance(body, bytes) else "text/html"
        return web.Response(
            status=status, body=raw, content_type=ctype, headers=extra[0] if extra else None
        )


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    stub = Stub()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    server = TestServer(app)
    await server.start_server()
    stub.url = str(server.make_url("")).rstrip("/")
    yield stub
    await server.close()


@pytest.fixture
async def connector(stub: Stub) -> AsyncIterator[ServiceNowConnector]:
    conn = make_connector(
        config(stub.url, options={"urgency": "2", "impact": "2", "category": "software"})
    )
    assert isinstance(conn, ServiceNowConnector)
    conn.mapping = mapping(sync_status=True)
    yield conn
    await conn.aclose()


BASIC = "Basic aW5jaWRlbnQuc3luYzpwdw=="  # incident.sync:pw
INCIDENT = f"/api/now/table/incident/{SYS_ID}"
READ = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}


def note_reply(text: str | None) -> Reply:
    return (200, {"result": [{"value": text}] if text is not None else []})


@needs_samples
async def test_fetch_reads_record_and_latest_note(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    record = sample("rest_table_get_incident_by_sys_id_response.json")
    record["result"]["u_incident_io_id"] = "01PLATFORM"
    stub.on("GET", INCIDENT, (200, record))
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply("Rebooted the switch"))
    state = await connector.fetch(SYS_ID)
    get, journal = stub.seen
    assert get.headers["Authorization"] == BASIC
    assert get.query == READ
    assert journal.query == {
        **READ,
        "sysparm_query": f"element=work_notes^element_id={SYS_ID}^ORDERBYDESCsys_created_on",
        "sysparm_limit": "1",
        "sysparm_offset": "0",
        "sysparm_no_count": "true",
        "sysparm_fields": "value",
    }
    assert state.external_id == SYS_ID
    assert state.reference == "INC0000046"
    assert state.version == "0000000004"
    assert state.platform_incident_id == "01PLATFORM"
    assert state.fields == {
        "title": "Can't access SFA software",
        "description": "",
        "status": "open",
        "comment": "Rebooted the switch",
    }
    assert all(type(k) is str for k in state.fields)
    orjson.dumps(state.fields)  # plain str keys: orjson refuses str-subclass keys


async def test_fetch_missing_is_record_not_found(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    with pytest.raises(RecordNotFound, match="No Record found: gone"):
        await connector.fetch(SYS_ID)


async def test_find_linked(stub: Stub, connector: ServiceNowConnector) -> None:
    stub.on(
        "GET",
        "/api/now/table/incident",
        (200, {"result": [{"sys_id": SYS_ID}]}),
        (200, {"result": []}),
    )
    assert await connector.find_linked("01PLATFORM") == SYS_ID
    assert await connector.find_linked("01OTHER") is None
    first = stub.seen[0]
    assert first.query["sysparm_query"] == "u_incident_io_id=01PLATFORM"
    assert first.query["sysparm_limit"] == "1"
    assert first.query["sysparm_fields"] == "sys_id"
    with pytest.raises(ToolError):
        await connector.find_linked("x^active=true")


@needs_samples
async def test_create_sets_correlation_and_defaults(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    created = sample("rest_table_post_incident_response.json")
    created["result"]["u_incident_io_id"] = "01PLATFORM"
    stub.on("POST", "/api/now/table/incident", (201, created))
    state = await connector.create(
        "01PLATFORM",
        {"title": "Unable to connect to office wifi", "comment": "Opened from incident.io"},
    )
    (call,) = stub.calls("POST", "/api/now/table/incident")
    assert call.json() == {
        "short_description": "Unable to connect to office wifi",
        "work_notes": "Opened from incident.io",
        "u_incident_io_id": "01PLATFORM",
        "urgency": "2",
        "impact": "2",
        "category": "software",
    }
    assert call.query == READ
    assert state.external_id == "c537bae64f411200adf9f8e18110c76e"
    assert state.reference == "INC0010002"
    assert state.version == "0000000000"
    assert state.platform_incident_id == "01PLATFORM"
    assert "comment" not in state.fields


@needs_samples
async def test_update_patches_mapped_fields(stub: Stub, connector: ServiceNowConnector) -> None:
    stub.on("PATCH", INCIDENT, (200, sample("rest_table_patch_incident_response.json")))
    version = await connector.update(
        SYS_ID, {"title": "New title", "description": None, "comment": "", "severity": "major"}
    )
    assert version == "0000000007"  # the PATCH response's sys_mod_count
    (call,) = stub.calls("PATCH", INCIDENT)
    # description None clears; an empty comment appends nothing; severity is not forward-mapped.
    assert call.json() == {"short_description": "New title", "description": ""}
    await connector.update(SYS_ID, {"comment": "Escalated to DBA"})
    assert stub.calls("PATCH", INCIDENT)[1].json() == {"work_notes": "Escalated to DBA"}
    assert await connector.update(SYS_ID, {"priority": "1"}) is None
    assert len(stub.calls("PATCH", INCIDENT)) == 2  # nothing mapped: no call


@needs_samples
async def test_client_methods(stub: Stub) -> None:
    patch = sample("rest_table_patch_incident_response.json")
    stub.on(
        "POST", "/api/now/table/incident", (201, sample("rest_table_post_incident_response.json"))
    )
    stub.on("PATCH", INCIDENT, (200, patch))
    stub.on(
        "GET", "/api/now/table/incident", (200, sample("rest_table_get_list_problem_response.json"))
    )
    stub.on(
        "POST",
        "/api/now/table/change_request",
        (201, {"result": {"sys_id": "c1", "number": "CHG0000001"}}),
    )
    stub.on(
        "GET",
        "/api/now/table/change_request/c1",
        (200, {"result": {"sys_id": "c1", "type": "normal"}}),
    )
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply(None))
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(
            http, base_url=stub.url, auth=httpx.BasicAuth("incident.sync", "pw"), timeout_s=5
        )
        await client.test_connection()
        assert stub.seen[-1].query["sysparm_limit"] == "1"

        created = await client.create_incident(
            short_description="Unable to connect to office wifi",
            urgency="2",
            impact="2",
            assignment_group="287ebd7da9fe198100f92cc8d1d2154e",
        )
        assert stub.seen[-1].json() == {
            "short_description": "Unable to connect to office wifi",
            "urgency": "2",
            "impact": "2",
            "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",
        }
        # Reference objects in the sample are flattened to their sys_id.
        assert created["assignment_group"] == "287ebd7da9fe198100f92cc8d1d2154e"

        rows = await client.search_incidents(
            "active=true^ORDERBYnumber", limit=5, offset=10, fields=["number"]
        )
        assert rows[0]["number"] == "PRB0000050"
        assert stub.seen[-1].query == {
            **READ,
            "sysparm_query": "active=true^ORDERBYnumber",
            "sysparm_limit": "5",
            "sysparm_offset": "10",
            "sysparm_no_count": "true",
            "sysparm_fields": "number",
        }

        await client.add_work_note(SYS_ID, "note")
        assert stub.seen[-1].json() == {"work_notes": "note"}
        await client.close_incident(SYS_ID, "Solved (Permanently)", "Rolled back")
        assert stub.seen[-1].json() == {
            "state": "6",
            "close_code": "Solved (Permanently)",
            "close_notes": "Rolled back",
        }
        updated = await client.update_incident(SYS_ID, {"urgency": "1"})
        assert updated["urgency"] == "1"

        change = await client.create_change_request("Deploy fix", "Roll back v2")
        assert change["number"] == "CHG0000001"
        assert stub.seen[-1].json() == {
            "short_description": "Deploy fix",
            "description": "Roll back v2",
            "type": "normal",
        }
        assert (await client.get_change_request("c1"))["type"] == "normal"
        assert await client.latest_work_note(SYS_ID) is None
        assert all(s.headers["Authorization"] == BASIC for s in stub.seen)
        assert all(s.query.items() >= READ.items() for s in stub.seen)


@needs_samples
async def test_rate_limit_with_retry_after(stub: Stub, connector: ServiceNowConnector) -> None:
    limited = sample("error_429_rate_limit_exceeded_response.json")
    stub.on("GET", INCIDENT, (429, limited, {"Retry-After": "7", "X-RateLimit-Limit": "100"}))
    with pytest.raises(ToolError) as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.status == 429
    assert info.value.retryable is True
    assert info.value.retry_after_s == 7.0
    assert "Rate limit exceeded: Rate limit of 100 requests per hour" in str(info.value)


async def test_rate_limit_with_reset_only(stub: Stub, connector: ServiceNowConnector) -> None:
    reset = str(int(time.time()) + 30)
    stub.on(
        "GET",
        INCIDENT,
        (429, {"error": {"message": "Rate limit exceeded"}}, {"X-RateLimit-Reset": reset}),
    )
    with pytest.raises(ToolError) as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.retryable is True
    assert info.value.retry_after_s is not None and 25 <= info.value.retry_after_s <= 31


async def test_validation_error_not_retryable(stub: Stub, connector: ServiceNowConnector) -> None:
    error = {
        "error": {"message": "Invalid state", "detail": "Close code is mandatory"},
        "status": "failure",
    }
    stub.on("PATCH", INCIDENT, (403, error))
    with pytest.raises(ToolError, match="Invalid state: Close code is mandatory") as info:
        await connector.update(SYS_ID, {"status": "closed", "title": "t"})
    assert info.value.retryable is False


async def test_hibernating_instance_is_retryable(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    stub.on("GET", INCIDENT, (200, b"<html>Your instance is hibernating</html>"))
    with pytest.raises(ToolError, match="expected a JSON object") as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.retryable is True


async def test_unreachable_instance_is_retryable() -> None:
    conn = ServiceNowConnector(config("http://127.0.0.1:9", timeout_s=2))
    try:
        with pytest.raises(ToolError) as info:
            await conn.test_connection()
        assert info.value.retryable is True
    finally:
        await conn.aclose()


async def test_close_code_option_added_when_closing(stub: Stub) -> None:
    cfg = config(stub.url, options={"close_code": "Solved (Permanently)"})
    fwd = MappingConfig(
        field_mappings={"incident.name": "short_description", "incident.status": "state"}
    )
    conn = ServiceNowConnector(cfg, mapping=FieldMapping(fwd))
    stub.on("PATCH", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    try:
        await conn.update(SYS_ID, {"status": "closed"})
    finally:
        await conn.aclose()
    assert stub.seen[0].json() == {
        "state": "6",
        "close_code": "Solved (Permanently)",
        "close_notes": "Closed by incident-sync",
    }


# -- OAuth ------------------------------------------------------------------------------------
def token(access: str, refresh: str = "r1", expires_in: int = 1800) -> Reply:
    return (
        200,
        {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": expires_in,
        },
    )


def oauth_config(url: str) -> IntegrationConfig:
    return config(url, oauth_client_id="cid", oauth_client_secret="csecret")


async def test_oauth_token_fetched_once_and_used(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID, "sys_mod_count": "1"}}))
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply(None))
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        await conn.fetch(SYS_ID)
        await conn.fetch(SYS_ID)
    finally:
        await conn.aclose()
    (grant,) = stub.calls("POST", "/oauth_token.do")
    assert grant.form() == {
        "grant_type": "password",
        "client_id": "cid",
        "client_secret": "csecret",
        "username": "incident.sync",
        "password": "pw",
    }
    api = [s for s in stub.seen if s.path != "/oauth_token.do"]
    assert len(api) == 4
    assert all(s.headers["Authorization"] == "Bearer t1" for s in api)


async def test_oauth_401_refreshes_once_and_retries(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"), token("t2"))

    def by_token(seen: Seen) -> Reply:
        if seen.headers["Authorization"] == "Bearer t2":
            return (200, {"result": {"sys_id": SYS_ID}})
        return (401, {"error": {"message": "User Not Authenticated"}, "status": "failure"})

    stub.on("GET", INCIDENT, by_token)
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        record = await conn.client.get_incident(SYS_ID)
    finally:
        await conn.aclose()
    assert record["sys_id"] == SYS_ID
    grants = stub.calls("POST", "/oauth_token.do")
    assert [g.form()["grant_type"] for g in grants] == ["password", "refresh_token"]
    assert grants[1].form()["refresh_token"] == "r1"
    assert [s.headers["Authorization"] for s in stub.calls("GET", INCIDENT)] == [
        "Bearer t1",
        "Bearer t2",
    ]


async def test_oauth_persistent_401_is_not_retried_forever(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"), token("t2"))
    stub.on("GET", INCIDENT, (401, {"error": {"message": "User Not Authenticated"}}))
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        with pytest.raises(ToolError) as info:
            await conn.client.get_incident(SYS_ID)
    finally:
        await conn.aclose()
    assert info.value.status == 401
    assert info.value.retryable is False
    assert len(stub.calls("GET", INCIDENT)) == 2


async def test_oauth_renews_before_expiry(stub: Stub) -> None:
    now = [1000.0]
    stub.on("POST", "/oauth_token.do", token("t1", expires_in=600), token("t2"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    auth = ServiceNowOAuth(
        stub.url,
        client_id="cid",
        client_secret="cs",
        username="u",
        password="p",
        clock=lambda: now[0],
    )
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(http, base_url=stub.url, auth=auth, timeout_s=5)
        await client.get_incident(SYS_ID)
        now[0] += 500  # inside the token's life
        await client.get_incident(SYS_ID)
        now[0] += 50  # within the renewal margin (60 s) of expiry
        await client.get_incident(SYS_ID)
    assert [s.headers["Authorization"] for s in stub.calls("GET", INCIDENT)] == [
        "Bearer t1",
        "Bearer t1",
        "Bearer t2",
    ]
    assert [g.form()["grant_type"] for g in stub.calls("POST", "/oauth_token.do")] == [
        "password",
        "refresh_token",
    ]


async def test_oauth_refused_refresh_falls_back_to_password(stub: Stub) -> None:
    now = [0.0]
    refused = (401, {"error": "access_denied", "error_description": "refresh token expired"})
    stub.on("POST", "/oauth_token.do", token("t1", expires_in=100), refused, token("t3"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    auth = ServiceNowOAuth(
        stub.url,
        client_id="c",
        client_secret="s",
        username="u",
        password="p",
        clock=lambda: now[0],
    )
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(http, base_url=stub.url, auth=auth, timeout_s=5)
        await client.get_incident(SYS_ID)
        now[0] += 1000
        await client.get_incident(SYS_ID)
    grants = [g.form()["grant_type"] for g in stub.calls("POST", "/oauth_token.do")]
    assert grants == ["password", "refresh_token", "password"]
    assert stub.calls("GET", INCIDENT)[-1].headers["Authorization"] == "Bearer t3"


async def test_oauth_bad_credentials_is_a_tool_error(stub: Stub) -> None:
    stub.on(
        "POST", "/oauth_token.do", (401, {"error": "access_denied", "error_description": "bad"})
    )
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        with pytest.raises(ToolError, match="access_denied: bad") as info:
            await conn.test_connection()
    finally:
        await conn.aclose()
    assert info.value.retryable is False
    assert stub.calls("GET", "/api/now/table/incident") == []


def test_registry_by_type() -> None:
    assert isinstance(make_connector(config()), ServiceNowConnector)
