"""incident.io connector: Svix signatures, webhook parsing over the vendor's sample payloads,
and the API client / connector against a small aiohttp stub server."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.base import RecordNotFound, ToolError, WebhookRejected
from connectors.incidentio import signature
from connectors.incidentio.connector import IncidentIoConnector
from connectors.registry import make_connector
from syncmodel.config import IntegrationConfig
from syncmodel.events import ChangeKind

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "protocols" / "incidentio" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"vendor samples not found at {SAMPLES} (../shared beside repo)"
)

SECRET = "whsec_" + base64.b64encode(b"incident-sync-test-key").decode()
INCIDENT_ID = "01FDAG4SAP5TYPT98WGR2N7W91"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def config(base_url: str = "https://api.incident.io", **options: str) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "platform",
            "type": "incidentio",
            "tenant": "acme",
            "base_url": base_url,
            "api_key": "key-123",
            "webhook_secret": SECRET,
            "options": options,
        }
    )


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers(values)


# -- signatures ------------------------------------------------------------------------------
@needs_samples
class TestSvixVector:
    @pytest.fixture
    def vector(self) -> dict[str, Any]:
        return sample("signature_vector_svix.json")

    def check(self, vector: dict[str, Any], hdrs: dict[str, str], body: bytes, now: float) -> None:
        key = signature.decode_secret(vector["secret"])
        signature.verify(httpx.Headers(hdrs), body, key, now=now)

    def test_vector_verifies_with_frozen_clock(self, vector: dict[str, Any]) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        self.check(vector, vector["headers"], vector["body"].encode(), ts)

    def test_svix_header_names_accepted(self, vector: dict[str, Any]) -> None:
        hdrs = {k.replace("webhook-", "svix-"): v for k, v in vector["headers"].items()}
        self.check(vector, hdrs, vector["body"].encode(), int(hdrs["svix-timestamp"]))

    @pytest.mark.parametrize("part", ["body", "signature", "timestamp", "id"])
    def test_tampering_fails(self, vector: dict[str, Any], part: str) -> None:
        hdrs = dict(vector["headers"])
        body = vector["body"].encode()
        now = int(hdrs["webhook-timestamp"])
        if part == "body":
            body = body.replace(b"2432232314", b"2432232315")
        elif part == "signature":
            sig = hdrs["webhook-signature"]
            hdrs["webhook-signature"] = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
        elif part == "timestamp":
            hdrs["webhook-timestamp"] = str(now + 1)
        else:
            hdrs["webhook-id"] = "msg_other"
        with pytest.raises(WebhookRejected) as info:
            self.check(vector, hdrs, body, now)
        assert info.value.status == 401

    @pytest.mark.parametrize("offset", [301, -301, 3600])
    def test_outside_five_minutes_fails(self, vector: dict[str, Any], offset: int) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        with pytest.raises(WebhookRejected, match=r"too old|future") as info:
            self.check(vector, vector["headers"], vector["body"].encode(), ts + offset)
        assert info.value.status == 401

    def test_within_five_minutes_passes(self, vector: dict[str, Any]) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        self.check(vector, vector["headers"], vector["body"].encode(), ts + 299)
        self.check(vector, vector["headers"], vector["body"].encode(), ts - 299)

    def test_several_signatures_one_valid(self, vector: dict[str, Any]) -> None:
        hdrs = dict(vector["headers"])
        valid = hdrs["webhook-signature"]
        bogus = "v1," + base64.b64encode(b"x" * 32).decode()
        hdrs["webhook-signature"] = f"{bogus} v1a,c29tZXRoaW5n {valid} v2,zzz"
        self.check(vector, hdrs, vector["body"].encode(), int(hdrs["webhook-timestamp"]))

    def test_only_other_versions_fails(self, vector: dict[str, Any]) -> None:
        hdrs = dict(vector["headers"])
        hdrs["webhook-signature"] = hdrs["webhook-signature"].replace("v1,", "v1a,")
        with pytest.raises(WebhookRejected):
            self.check(vector, hdrs, vector["body"].encode(), int(hdrs["webhook-timestamp"]))


def test_missing_headers_rejected() -> None:
    key = signature.decode_secret(SECRET)
    with pytest.raises(WebhookRejected, match="missing") as info:
        signature.verify(headers(), b"{}", key, now=0)
    assert info.value.status == 401


def test_connector_verify_uses_configured_secret() -> None:
    connector = IncidentIoConnector(config())
    body = b'{"event_type": "x"}'
    key = signature.decode_secret(SECRET)
    sig = signature.sign(key, "msg_1", "1700000000", body)
    hdrs = headers(**{"webhook-id": "msg_1", "webhook-timestamp": "1700000000"})
    hdrs["webhook-signature"] = sig
    connector.verify(hdrs, body, now=1_700_000_010)
    with pytest.raises(WebhookRejected):
        connector.verify(hdrs, body + b" ", now=1_700_000_010)


def test_connector_without_secret_rejects() -> None:
    cfg = config().model_copy(update={"webhook_secret": None})
    with pytest.raises(WebhookRejected, match="no webhook secret") as info:
        IncidentIoConnector(cfg).verify(headers(), b"{}", now=0)
    assert info.value.status == 401


# -- webhook parsing -------------------------------------------------------------------------
def parse(body: bytes, delivery: str = "msg_abc") -> list[Any]:
    return IncidentIoConnector(config()).parse(headers(**{"webhook-id": delivery}), body)


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("webhook_*.json")) if SAMPLES.is_dir() else []


INCIDENT_EVENT_TYPES = {
    "public_incident.incident_created_v2",
    "public_incident.incident_updated_v2",
    "public_incident.incident_status_updated_v2",
    "private_incident.incident_created_v2",
    "private_incident.incident_updated_v2",
}


@needs_samples
def test_there_are_webhook_samples() -> None:
    assert len(sample_files()) >= 20


@needs_samples
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem)
def test_every_sample_parses(path: Path) -> None:
    body = path.read_bytes()
    event_type = orjson.loads(body)["event_type"]
    events = parse(body)
    if event_type in INCIDENT_EVENT_TYPES:
        assert len(events) == 1
        event = events[0]
        assert event.delivery_id == "msg_abc"
        assert event.integration_id == "platform"
        assert event.tenant == "acme"
        assert event.external_id == event.platform_incident_id
    else:
        assert events == []


@needs_samples
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("webhook_public_incident.incident_created_v2.json", ChangeKind.CREATED),
        ("webhook_public_incident.incident_updated_v2.json", ChangeKind.UPDATED),
    ],
)
def test_incident_snapshot_fields(name: str, kind: ChangeKind) -> None:
    (event,) = parse((SAMPLES / name).read_bytes())
    assert event.kind is kind
    assert event.external_id == INCIDENT_ID
    assert event.platform_incident_id == INCIDENT_ID
    assert event.reference == "INC-123"
    assert event.version == "2021-08-17T13:28:57.801578Z"
    assert event.source_ts == datetime(2021, 8, 17, 13, 28, 57, 801578, tzinfo=UTC)
    new = {k: v.new for k, v in event.changes.items()}
    assert all(v.old is None for v in event.changes.values())
    assert new == {
        "title": "Our database is sad",
        "description": "Our database is really really sad, and we don't know why yet.",
        "status": "open",  # category triage (the sample's status *name* says Closed)
        "severity": "minor",
        "comment": "We're working on a fix, hoping to ship in the next 30 minutes",
    }


@needs_samples
def test_status_updated_takes_new_status_and_message() -> None:
    envelope = sample("webhook_public_incident.incident_status_updated_v2.json")
    payload = envelope["public_incident.incident_status_updated_v2"]
    payload["new_status"]["category"] = "closed"
    payload["message"] = "Fixed by rolling back"
    (event,) = parse(orjson.dumps(envelope))
    assert event.kind is ChangeKind.UPDATED
    assert event.external_id == INCIDENT_ID
    assert {k: v.new for k, v in event.changes.items()} == {
        "status": "closed",
        "comment": "Fixed by rolling back",
    }
    assert event.version == payload["incident"]["updated_at"]


@needs_samples
def test_status_updated_without_message_falls_back_to_latest_update() -> None:
    envelope = sample("webhook_public_incident.incident_status_updated_v2.json")
    payload = envelope["public_incident.incident_status_updated_v2"]
    payload["message"] = ""
    payload["incident"]["most_recent_update_message"] = "earlier update"
    (event,) = parse(orjson.dumps(envelope))
    assert event.changes["comment"].new == "earlier update"


@needs_samples
@pytest.mark.parametrize("verb", ["created", "updated"])
def test_private_incident_is_a_refresh(verb: str) -> None:
    (event,) = parse((SAMPLES / f"webhook_private_incident.incident_{verb}_v2.json").read_bytes())
    assert event.kind is ChangeKind.REFRESH
    assert event.external_id == "abc123"
    assert event.platform_incident_id == "abc123"
    assert event.changes == {}


def envelope(incident: dict[str, Any], event_type: str = "public_incident.incident_updated_v2"):
    return orjson.dumps({"event_type": event_type, event_type: incident})


@pytest.mark.parametrize(
    ("category", "status"),
    [
        ("triage", "open"),
        ("live", "open"),
        ("paused", "open"),
        ("learning", "closed"),
        ("closed", "closed"),
        ("declined", "closed"),
        ("merged", "closed"),
        ("canceled", "closed"),
        ("something_new", None),
    ],
)
def test_status_categories(category: str, status: str | None) -> None:
    (event,) = parse(
        envelope({"id": "01X", "name": "n", "incident_status": {"category": category}})
    )
    assert (event.changes["status"].new if "status" in event.changes else None) == status


def test_absent_severity_and_empty_update_are_omitted() -> None:
    body = envelope({"id": "01X", "name": "n", "severity": None, "most_recent_update_message": ""})
    (event,) = parse(body)
    assert set(event.changes) == {"title"}


def test_delivery_id_falls_back_to_body_digest() -> None:
    body = envelope({"id": "01X", "name": "n"})
    first = IncidentIoConnector(config()).parse(headers(), body)[0]
    again = IncidentIoConnector(config()).parse(headers(), body)[0]
    assert first.delivery_id == again.delivery_id
    assert first.delivery_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"public_incident.incident_updated_v2": {}}', 422),
        (b'{"event_type": "public_incident.incident_updated_v2"}', 422),
        (
            b'{"event_type": "public_incident.incident_updated_v2", '
            b'"public_incident.incident_updated_v2": {"name": "no id"}}',
            422,
        ),
        (
            b'{"event_type": "private_incident.incident_updated_v2", '
            b'"private_incident.incident_updated_v2": {}}',
            422,
        ),
        (
            b'{"event_type": "public_incident.incident_status_updated_v2", '
            b'"public_incident.incident_status_updated_v2": {"message": "x"}}',
            422,
        ),
    ],
)
def test_malformed_rejected(body: bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(body)
    assert info.value.status == status
    assert info.value.reason


# -- API client / connector against a stub server --------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class Stub:
    """Answers queued replies per (method, path) and records every request."""

    routes: dict[tuple[str, str], list[Reply | Callable[[Seen], Reply]]] = field(
        default_factory=dict
    )
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def on(self, method: str, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            orjson.loads(raw) if raw else None,
        )
        self.seen.append(seen)
        queue = self.routes.get((request.method, request.path))
        if not queue:
            return web.json_response({"type": "not_found", "status": 404, "errors": []}, status=404)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(reply):
            reply = reply(seen)
        status, payload, *extra = reply
        return web.Response(
            status=status,
            body=orjson.dumps(payload),
            content_type="application/json",
            headers=extra[0] if extra else None,
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
async def connector(stub: Stub) -> AsyncIterator[IncidentIoConnector]:
    conn = make_connector(config(stub.url, comment_custom_field="ServiceNow notes"))
    assert isinstance(conn, IncidentIoConnector)
    yield conn
    await conn.aclose()


STATUSES = {
    "incident_statuses": [
        {"id": "st-closed", "name": "Closed", "category": "closed", "rank": 9},
        {"id": "st-fixing", "name": "Fixing", "category": "live", "rank": 2},
        {"id": "st-invest", "name": "Investigating", "category": "live", "rank": 1},
        {"id": "st-triage", "name": "Triage", "category": "triage", "rank": 0},
    ]
}
SEVERITIES = {
    "severities": [
        {"id": "sev-minor", "name": "Minor", "rank": 1},
        {"id": "sev-major", "name": "Major", "rank": 2},
        {"id": "sev-crit", "name": "Critical", "rank": 3},
    ]
}
CUSTOM_FIELDS = {
    "custom_fields": [
        {"id": "cf-team", "name": "Affected Team", "field_type": "single_select"},
        {"id": "cf-notes", "name": "ServiceNow notes", "field_type": "text"},
    ]
}


def lookups(stub: Stub) -> None:
    stub.on("GET", "/v1/incident_statuses", (200, STATUSES))
    stub.on("GET", "/v1/severities", (200, SEVERITIES))
    stub.on("GET", "/v2/custom_fields", (200, CUSTOM_FIELDS))


@needs_samples
async def test_fetch_reads_show(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on(
        "GET",
        f"/v2/incidents/{INCIDENT_ID}",
        (200, sample("rest_v2_incidents_show_response_200.json")),
    )
    record = await connector.fetch(INCIDENT_ID)
    (call,) = stub.seen
    assert call.headers["Authorization"] == "Bearer key-123"
    assert record.external_id == INCIDENT_ID
    assert record.platform_incident_id == INCIDENT_ID
    assert record.reference == "INC-123"
    assert record.version == "2021-08-17T13:28:57.801578Z"
    assert record.fields["title"] == "Our database is sad"
    assert record.fields["status"] == "open"
    assert all(type(k) is str and type(v) is str for k, v in record.fields.items())
    orjson.dumps(record.fields)  # plain str keys: orjson refuses str-subclass keys


async def test_find_linked(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on("GET", "/v2/incidents/01A", (200, {"incident": {"id": "01A"}}))
    assert await connector.find_linked("01A") == "01A"
    assert await connector.find_linked("01MISSING") is None


async def test_update_is_one_edit_call(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    edited = {"incident": {"id": "01A", "updated_at": "2024-05-06T07:08:09.123456Z"}}
    stub.on("POST", "/v2/incidents/01A/actions/edit", (200, edited))
    fields = {
        "title": "DB down",
        "description": None,
        "status": "closed",
        "severity": "MAJOR",
        "comment": "Restarted the primary",
        "assignee": "ignored: not a field incident.io takes",
    }
    assert await connector.update("01A", fields) == "2024-05-06T07:08:09.123456Z"
    (edit,) = stub.calls("POST", "/v2/incidents/01A/actions/edit")
    assert edit.body == {
        "incident": {
            "name": "DB down",
            "summary": "",
            "incident_status_id": "st-closed",
            "severity_id": "sev-major",
            "custom_field_entries": [
                {"custom_field_id": "cf-notes", "values": [{"value_text": "Restarted the primary"}]}
            ],
        },
        "notify_incident_channel": False,
    }
    await connector.update("01A", {"status": "open"})
    assert stub.calls("POST", "/v2/incidents/01A/actions/edit")[1].body["incident"] == {
        "incident_status_id": "st-invest"  # lowest-ranked live status
    }
    # Lookups are cached: one call each however many edits.
    assert len(stub.calls("GET", "/v1/incident_statuses")) == 1


async def test_update_with_nothing_to_write_sends_nothing(
    stub: Stub, connector: IncidentIoConnector
) -> None:
    assert await connector.update("01A", {"priority": "1"}) is None
    assert stub.seen == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "resolved"}, "unknown status"),
        ({"severity": "apocalyptic"}, "unknown severity"),
    ],
)
async def test_unknown_values_are_not_retryable(
    stub: Stub, connector: IncidentIoConnector, fields: dict[str, str], message: str
) -> None:
    lookups(stub)
    with pytest.raises(ToolError, match=message) as info:
        await connector.update("01A", fields)
    assert info.value.retryable is False
    assert stub.calls("POST", "/v2/incidents/01A/actions/edit") == []


async def test_missing_comment_field_is_reported(stub: Stub) -> None:
    lookups(stub)
    conn = IncidentIoConnector(config(stub.url))  # default field name, absent in the account
    try:
        with pytest.raises(ToolError, match="External work notes") as info:
            await conn.update("01A", {"comment": "x"})
        assert info.value.retryable is False
        # The stale cache was re-read once before giving up.
        assert len(stub.calls("GET", "/v2/custom_fields")) == 2
    finally:
        await conn.aclose()


@needs_samples
async def test_create_uses_idempotency_key(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    stub.on("POST", "/v2/incidents", (200, sample("rest_v2_incidents_create_response_200.json")))
    record = await connector.create("01PLATFORM", {"title": "From ServiceNow", "severity": "minor"})
    (call,) = stub.calls("POST", "/v2/incidents")
    assert call.body == {
        "idempotency_key": "incident-sync:01PLATFORM",
        "visibility": "public",
        "name": "From ServiceNow",
        "severity_id": "sev-minor",
    }
    assert record.external_id == INCIDENT_ID


@needs_samples
async def test_list_follows_after_cursor(stub: Stub, connector: IncidentIoConnector) -> None:
    page = sample("rest_v2_incidents_list_response_200.json")
    first = {**page, "pagination_meta": {"after": "01CURSOR", "page_size": 2}}
    last = {"incidents": [{"id": "01LAST"}], "pagination_meta": {"page_size": 2}}
    stub.on("GET", "/v2/incidents", (200, first), (200, last))
    ids = [i["id"] async for i in connector.client.list_incidents(page_size=2)]
    assert ids == [INCIDENT_ID, "01LAST"]
    calls = stub.calls("GET", "/v2/incidents")
    assert [c.query for c in calls] == [{"page_size": "2"}, {"page_size": "2", "after": "01CURSOR"}]


async def test_vendor_error_message_is_kept(stub: Stub, connector: IncidentIoConnector) -> None:
    error = {
        "type": "validation_error",
        "status": 422,
        "request_id": "631766c4",
        "errors": [
            {
                "code": "is_required",
                "message": "A severity is required to open an incident",
                "source": {"field": "severity_id"},
            }
        ],
    }
    stub.on("POST", "/v2/incidents/01A/actions/edit", (422, error))
    with pytest.raises(ToolError) as info:
        await connector.update("01A", {"title": "x"})
    assert info.value.status == 422
    assert info.value.retryable is False
    assert "A severity is required to open an incident (severity_id)" in str(info.value)
    assert "631766c4" in str(info.value)


async def test_rate_limited_is_retryable(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on("GET", "/v2/incidents/01A", (429, {"type": "rate_limited"}, {"Retry-After": "12"}))
    with pytest.raises(ToolError) as info:
        await connector.fetch("01A")
    assert info.value.retryable is True
    assert info.value.retry_after_s == 12.0


async def test_not_found(stub: Stub, connector: IncidentIoConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("01NOPE")


async def test_test_connection(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    await connector.test_connection()
    stub.on("GET", "/v1/severities", (401, {"type": "authentication_error", "errors": []}))
    with pytest.raises(ToolError) as info:
        await connector.test_connection()
    assert info.value.status == 401
