"""The manual sync routes (`POST /sync/...`): a refresh event published per request."""

from __future__ import annotations

import pytest

from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin
from tests.unit.ingress.helpers import PLATFORM, SNOW, FakeProducer, make_client


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


async def test_a_record_id_outside_the_id_rule_is_refused(client, producer) -> None:
    for bad in ("a" * 129, "a%0Ab", "a%2Fb", "-x", "a%20b"):
        resp = await client.post(f"/sync/incident/{bad}")
        assert resp.status == 400, bad
        assert (await resp.json())["reason"].startswith("record id: ")
    assert producer.sent == []


@pytest.mark.parametrize(
    ("env", "headers", "status"),
    [
        ({"SYNC_API_OPEN": False}, {}, 403),  # no token configured: closed to everyone
        ({"SYNC_API_OPEN": False}, {"Authorization": "Bearer "}, 403),
        ({"SYNC_API_OPEN": False, "SYNC_API_TOKEN": ""}, {"Authorization": "Bearer "}, 403),
        ({"SYNC_API_OPEN": False, "SYNC_API_TOKEN": "t0k"}, {}, 401),
        ({"SYNC_API_OPEN": False, "SYNC_API_TOKEN": "t0k"}, {"Authorization": "Bearer x"}, 401),
        ({"SYNC_API_OPEN": False, "SYNC_API_TOKEN": "t0k"}, {"Authorization": "Bearer t0k"}, 202),
        ({"SYNC_API_OPEN": True, "SYNC_API_TOKEN": "t0k"}, {}, 401),  # a token always counts
        ({"SYNC_API_OPEN": True}, {}, 202),  # development: open
    ],
)
async def test_who_may_call_the_sync_routes(
    env: dict[str, object], headers: dict[str, str], status: int
) -> None:
    producer = FakeProducer()
    config = SyncConfig(platform=PLATFORM, integrations=(SNOW,))
    client = await make_client(config, producer, None, **env)
    try:
        for path in ("/sync/incident/01HINC", "/sync/servicenow/0a1b", "/sync/prod-snow/0a1b"):
            resp = await client.post(path, headers=headers)
            assert resp.status == status, (path, env, headers)
            answer = await resp.json()
            if status != 202:
                assert answer["error"] in ("forbidden", "unauthorized") and answer["reason"]
        assert len(producer.sent) == (3 if status == 202 else 0)
    finally:
        await client.close()
