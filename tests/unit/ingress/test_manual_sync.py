"""The manual sync routes (`POST /sync/...`): a refresh event published per request."""

from __future__ import annotations

from syncmodel import codec, topics
from syncmodel.events import ChangeEvent, ChangeKind, Origin


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
