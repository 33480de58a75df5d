"""The ingress handlers on a real aiohttp server, with an in-memory stand-in for the producer
and a tiny HMAC connector, so every status code and what gets published can be checked."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from connectors.base import Connector, RecordState, WebhookRejected
from ingress.app import build_app
from runtime.settings import Settings
from syncmodel import codec, topics
from syncmodel.config import IntegrationConfig, SyncConfig
from syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin
from syncmodel.fields import ToolType

SECRET = b"s3cret"
MAX_BODY = 64 * 1024


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


class HmacConnector(Connector):
    """`x-signature: hex(hmac(body))`; body `{"type": "update"|"noise"|"boom", "ids": [...]}`."""

    tool = ToolType.INCIDENTIO

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        given = headers.get("x-signature", "")
        if not hmac.compare_digest(given, sign(body)):
            raise WebhookRejected(401, "bad signature")

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WebhookRejected(400, "not JSON") from None
        kind = data.get("type")
        if kind == "noise":
            return []
        if kind == "boom":
            raise RuntimeError("a parser bug")
        if kind != "update" or not data.get("ids"):
            raise WebhookRejected(422, "no ids")
        return [
            ChangeEvent(
                delivery_id=headers.get("x-delivery", "d-1"),
                tenant=self.config.tenant,
                integration_id=self.config.id,
                external_id=i,
                kind=ChangeKind.UPDATED,
                changes={"title": FieldChange(new=f"title {i}")},
            )
            for i in data["ids"]
        ]

    async def test_connection(self) -> None:
        return None

    async def fetch(self, external_id: str) -> RecordState:
        return RecordState(external_id)

    async def find_linked(self, platform_incident_id: str) -> str | None:
        return None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        return RecordState("x")

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> None:
        return None

    def _make_client(self) -> Any:
        raise NotImplementedError


class FakeCluster:
    def __init__(self, topics_: set[str]) -> None:
        self._topics = topics_

    def topics(self) -> set[str]:
        return self._topics

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0, 1, 2} if topic in self._topics else None


class FakeClient:
    def __init__(self) -> None:
        self.down = False
        self.cluster = FakeCluster({topics.INBOUND})

    async def fetch_all_metadata(self) -> FakeCluster:
        if self.down:
            raise KafkaConnectionError("down")
        return self.cluster

    async def force_metadata_update(self) -> bool:
        return True


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: Any) -> object:
        self.records.append((key, value, headers))
        return object()


class FakeProducer:
    """What aiokafka's batch API would send; `hang` makes acknowledgements never come."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.hang = False
        self.pending: list[asyncio.Future[None]] = []
        self.client = FakeClient()

    def expire(self) -> None:
        """What aiokafka does to a batch in flight past its request timeout."""
        for fut in self.pending:
            fut.set_exception(KafkaTimeoutError())
        self.pending.clear()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int):
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.hang:
            self.pending.append(fut)
        else:
            self.sent.extend((topic, k, v, h) for k, v, h in batch.records)
            fut.set_result(None)
        return fut


class FakeRedis:
    def __init__(self) -> None:
        self.down = False

    async def ping(self) -> bool:
        if self.down:
            raise ConnectionError("refused")
        return True


def side(id_: str, tool: ToolType = ToolType.SERVICENOW, **kw: Any) -> IntegrationConfig:
    return IntegrationConfig(id=id_, type=tool, base_url="http://127.0.0.1:1", **kw)


PLATFORM = side("incidentio", ToolType.INCIDENTIO)
SNOW = side("prod-snow")


async def make_client(
    config: SyncConfig, producer: FakeProducer, redis: FakeRedis | None = None
) -> TestClient[web.Request, web.Application]:
    settings = Settings(MAX_BODY_BYTES=MAX_BODY, KAFKA_IDEMPOTENCE=False)
    app = build_app(
        settings,
        config,
        producer=cast(Any, producer),
        redis=cast(Any, redis or FakeRedis()),
        connector_factory=HmacConnector,
        publish_timeout_s=0.3,
        ensure_topics=False,
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


@pytest.fixture
async def client(
    producer: FakeProducer, redis: FakeRedis
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    config = SyncConfig(
        platform=PLATFORM,
        integrations=(SNOW, side("quiet-snow2", ToolType.INCIDENTIO, direction="outbound")),
    )
    c = await make_client(config, producer, redis)
    yield c
    await c.close()


def signed(payload: object, **headers: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {"Content-Type": "application/json", "x-signature": sign(body), **headers}


async def post(client: TestClient[Any, Any], path: str, payload: object, **headers: str) -> Any:
    body, hdrs = signed(payload, **headers)
    return await client.post(path, data=body, headers=hdrs)


async def test_accepts_and_publishes_each_event_after_the_ack(client, producer) -> None:
    resp = await post(
        client, "/webhook", {"type": "update", "ids": ["a", "b"]}, **{"x-delivery": "d9"}
    )
    assert resp.status == 202
    assert await resp.json() == {"status": "accepted", "events": 2}
    assert [s[0] for s in producer.sent] == [topics.INBOUND, topics.INBOUND]
    _topic, key, value, headers = producer.sent[0]
    assert key == topics.record_key("default", "incidentio", "a")
    event = codec.decode(ChangeEvent, value)
    assert event.external_id == "a" and event.delivery_id == "d9"
    assert dict(headers) == {
        "origin": b"user",
        "delivery-id": b"d9",
        "integration-id": b"incidentio",
    }


async def test_charset_is_fine_and_other_sides_route_by_id(client, producer) -> None:
    body, hdrs = signed({"type": "update", "ids": ["x"]})
    hdrs["Content-Type"] = "application/json; charset=utf-8"
    resp = await client.post("/webhooks/prod-snow", data=body, headers=hdrs)
    assert resp.status == 202
    assert producer.sent[0][1] == topics.record_key("default", "prod-snow", "x")
    resp = await post(client, "/webhook/servicenow", {"type": "update", "ids": ["y"]})
    assert resp.status == 202
    assert dict(producer.sent[1][3])["integration-id"] == b"prod-snow"


async def test_wrong_content_type_is_415(client, producer) -> None:
    body, hdrs = signed({"type": "update", "ids": ["a"]})
    hdrs["Content-Type"] = "text/plain"
    resp = await client.post("/webhook", data=body, headers=hdrs)
    assert resp.status == 415
    assert (await resp.json())["error"] == "unsupported_media_type"
    assert producer.sent == []


async def test_body_over_the_limit_is_413_without_reading_it(client, producer) -> None:
    body = b'{"type": "update", "pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    resp = await client.post(
        "/webhook",
        data=body,
        headers={"Content-Type": "application/json", "x-signature": sign(body)},
    )
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"
    assert producer.sent == []


async def test_chunked_body_over_the_limit_is_413_json(client, producer) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    resp = await client.post(
        "/webhook", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"
    assert producer.sent == []


async def test_bad_signature_is_401_and_publishes_nothing(client, producer) -> None:
    body, hdrs = signed({"type": "update", "ids": ["a"]})
    hdrs["x-signature"] = sign(b"other")
    resp = await client.post("/webhook", data=body, headers=hdrs)
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized", "reason": "bad signature"}
    assert producer.sent == []


async def test_malformed_is_400_and_invalid_is_422(client, producer) -> None:
    body = b"{not json"
    resp = await client.post(
        "/webhook",
        data=body,
        headers={"Content-Type": "application/json", "x-signature": sign(body)},
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_request"
    resp = await post(client, "/webhook", {"type": "update", "ids": []})
    assert resp.status == 422
    assert (await resp.json()) == {"error": "invalid", "reason": "no ids"}
    assert producer.sent == []


async def test_event_types_not_synced_are_200_ignored(client, producer) -> None:
    resp = await post(client, "/webhook", {"type": "noise"})
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ignored" and body["reason"]
    assert producer.sent == []


async def test_outbound_only_integration_ignores_webhooks(client, producer) -> None:
    resp = await post(client, "/webhooks/quiet-snow2", {"type": "update", "ids": ["a"]})
    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    assert producer.sent == []


async def test_unknown_integration_and_route_are_404_json(client) -> None:
    resp = await post(client, "/webhooks/nope", {"type": "update", "ids": ["a"]})
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
    resp = await client.post("/elsewhere", data=b"{}")
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
    resp = await client.get("/webhook")
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"


async def test_servicenow_route_needs_exactly_one_servicenow_integration(producer) -> None:
    for integrations in ((), (SNOW, side("snow-b"))):
        client = await make_client(
            SyncConfig(platform=PLATFORM, integrations=integrations), producer
        )
        try:
            resp = await post(client, "/webhook/servicenow", {"type": "update", "ids": ["a"]})
            assert resp.status == 404
            assert "ServiceNow" in (await resp.json())["reason"]
            resp = await client.post("/sync/servicenow/abc")
            assert resp.status == 404
        finally:
            await client.close()
    assert producer.sent == []


async def test_parser_bug_is_a_logged_500_json(client, producer, caplog) -> None:
    resp = await post(client, "/webhook", {"type": "boom"})
    assert resp.status == 500
    assert (await resp.json())["error"] == "internal"
    assert "a parser bug" not in await resp.text()
    assert any("unhandled error" in r.message for r in caplog.records)


async def test_broker_not_acknowledging_is_503_with_retry_after(client, producer) -> None:
    producer.hang = True
    resp = await post(client, "/webhook", {"type": "update", "ids": ["a"]})
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"] == "unavailable"
    producer.hang = False
    producer.expire()
    resp = await post(client, "/webhook", {"type": "update", "ids": ["a"]})
    assert resp.status == 202
    assert len(producer.sent) == 1


async def test_manual_sync_publishes_a_refresh(client, producer) -> None:
    resp = await client.post(
        "/sync/incident/01HINC",
        json={"updated_fields": ["incident.name", "incident.status"], "old_values": {"a": "b"}},
    )
    assert resp.status == 202
    answer = await resp.json()
    assert answer["status"] == "accepted"
    _, key, value, headers = producer.sent[0]
    event = codec.decode(ChangeEvent, value)
    assert event.event_id == answer["event_id"]
    assert event.kind is ChangeKind.REFRESH and event.origin is Origin.MANUAL
    assert event.integration_id == "incidentio" and event.external_id == "01HINC"
    assert event.only_fields == ("incident.name", "incident.status")
    assert key == topics.record_key("default", "incidentio", "01HINC")
    assert dict(headers)["origin"] == b"manual"

    resp = await client.post("/sync/servicenow/0123abcd")
    assert resp.status == 202
    event = codec.decode(ChangeEvent, producer.sent[1][2])
    assert event.integration_id == "prod-snow" and event.only_fields == ()
    assert event.delivery_id != codec.decode(ChangeEvent, producer.sent[0][2]).delivery_id


async def test_manual_sync_rejects_bad_bodies(client, producer) -> None:
    resp = await client.post("/sync/incident/x1", data=b"nope")
    assert resp.status == 400
    resp = await client.post("/sync/incident/x1", json={"updated_fields": "title"})
    assert resp.status == 422
    resp = await client.post("/sync/incident/x1", json=[1])
    assert resp.status == 422
    assert producer.sent == []


async def test_health_ready_and_metrics(client, producer, redis) -> None:
    assert (await client.get("/health")).status == 200
    resp = await client.get("/ready")
    assert resp.status == 200
    redis.down = True
    producer.client.down = True
    resp = await client.get("/ready")
    assert resp.status == 503
    body = await resp.json()
    assert body["error"] == "not_ready"
    assert "redis" in body["reason"] and "broker" in body["reason"]
    redis.down = False
    producer.client.down = False
    await post(client, "/webhooks/prod-snow", {"type": "update", "ids": ["m"]})
    await post(client, "/webhooks/prod-snow", {"type": "noise"})
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert (
        'incident_sync_webhooks_received_total{integration="prod-snow",outcome="accepted",'
        'type="servicenow"}'
    ) in text
    assert 'outcome="ignored"' in text
    assert "incident_sync_ingress_publish_seconds_bucket" in text
    assert 'incident_sync_events_published_total{integration="prod-snow",type="updated"}' in text
