"""The /health, /ready and /metrics routes."""

from __future__ import annotations

from tests.unit.ingress.helpers import post


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
