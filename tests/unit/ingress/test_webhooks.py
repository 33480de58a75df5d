"""The webhook routes on a real aiohttp server, with an in-memory stand-in for the producer and a
tiny HMAC connector, so every status code and what gets published can be checked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson

from incident_sync.connectors.base import Connector
from incident_sync.connectors.registry import make_connector
from incident_sync.syncmodel import codec, sizes, topics
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent
from tests.unit.ingress.helpers import (
    MAX_BODY,
    PLATFORM,
    SNOW,
    HmacConnector,
    make_client,
    post,
    side,
    sign,
    signed,
)


async def test_accepts_and_publishes_each_event_after_the_ack(client, producer) -> None:
    resp = await post(
        client, "/webhook", {"type": "update", "ids": ["a", "b"]}, **{"x-delivery": "d9"}
    )
    assert resp.status == 202
    assert await resp.json() == {"status": "accepted", "events": 2}
    assert [s[0] for s in producer.sent] == [topics.OBSERVATIONS, topics.OBSERVATIONS]
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


async def test_an_id_outside_the_id_rule_is_refused_whatever_parser_made_it(
    client, producer
) -> None:
    """The parsers refuse such ids naming the tool's field; the ingress checks what any
    parser returns once more (this test connector checks nothing)."""
    for bad in ("a/b", "x" * 129, "a\nb", "../etc", ""):
        resp = await post(client, "/webhook", {"type": "update", "ids": ["ok", bad]})
        assert resp.status == 422, bad
        assert (await resp.json())["reason"].startswith("external_id: ")
    assert producer.sent == []


async def test_a_change_at_the_message_limit_is_accepted_and_one_byte_more_is_413(
    producer,
) -> None:
    """KAFKA_MAX_MESSAGE_BYTES bounds every stage's message; a change is accepted up to
    `sizes.event_limit` of it (later stages carry up to three times the change)."""
    max_message = sizes.MIN_MAX_MESSAGE_BYTES
    limit = sizes.event_limit(max_message)
    config = SyncConfig(platform=PLATFORM, integrations=(SNOW,))
    connector = HmacConnector(PLATFORM)

    def body(title: str) -> dict[str, object]:
        return {"type": "update", "ids": ["a"], "title": title}

    def size(title: str) -> int:  # as the ingress encodes it
        (event,) = connector.parse(httpx.Headers({"x-delivery": "d1"}), orjson.dumps(body(title)))
        return len(codec.encode(event))

    title = "t" * (limit - size(""))
    assert size(title) == limit
    client = await make_client(config, producer, KAFKA_MAX_MESSAGE_BYTES=max_message)
    try:
        resp = await post(client, "/webhook", body(title), **{"x-delivery": "d1"})
        assert resp.status == 202
        assert len(producer.sent[0][2]) == limit
        resp = await post(client, "/webhook", body(title + "t"), **{"x-delivery": "d1"})
        assert resp.status == 413
        answer = await resp.json()
        assert answer["error"] == "too_large"
        assert f"would be {limit + 1} bytes" in answer["reason"]
        assert f"KAFKA_MAX_MESSAGE_BYTES ({max_message})" in answer["reason"]
        assert len(producer.sent) == 1
    finally:
        await client.close()


async def test_a_notifier_has_no_webhook_interface_and_its_deliveries_are_refused(
    producer,
) -> None:
    slack = side("ops-slack", "slack", options={"channel": "C0SANDBOX01"})
    config = SyncConfig(platform=PLATFORM, integrations=(SNOW, slack))

    def factory(side_config: IntegrationConfig) -> Connector:
        if side_config.type == "slack":
            return make_connector(side_config)  # the real one: a Notifier, no WebhookSource
        return HmacConnector(side_config)

    client = await make_client(config, producer, CONNECTOR_FACTORY=factory)
    try:
        body, hdrs = signed({"type": "update", "ids": ["x"]})
        resp = await client.post("/webhooks/ops-slack", data=body, headers=hdrs)
        assert resp.status == 401
        assert "takes no webhooks" in (await resp.json())["reason"]
        assert producer.sent == []
    finally:
        await client.close()
