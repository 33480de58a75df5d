"""The quarantine's control API on the real service, redis-server and broker: entries listed
with filters and without their bytes, one shown with them, a retry publishing the original
value, key and headers to the stage's input topic (audited), a bulk retry that lists first
(dry run) and goes oldest first, a retry the broker still refuses (too large) kept, and a
scoped manager seeing and retrying only their integration's entries."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from incident_sync.syncmodel import topics
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys
from incident_sync.syncstate.quarantine import (
    RETRY_HEADER,
    Message,
    QuarantineEntry,
    QuarantineIndex,
    Stage,
)
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "qtenant"
Q = f"/api/v1/tenants/{TENANT}/quarantine"


def entry(
    offset: int,
    stage: Stage,
    integration: str | None,
    value: bytes = b"{not json",
    error: Exception | None = None,
    age_s: float = 0,
) -> QuarantineEntry:
    message = Message(
        topic={Stage.GATE: topics.OBSERVATIONS, Stage.ARBITER: topics.LINKED}.get(
            stage, topics.COMMANDS
        ),
        value=value,
        key=f"{TENANT}:{integration or 'x'}:{offset}".encode(),
        headers=(("integration-id", (integration or "").encode()), ("traceparent", b"00-x")),
        partition=0,
        offset=offset,
    )
    made = QuarantineEntry.of(
        stage, message, error or ValueError("unexpected character"), tenant=TENANT,
        integration_id=integration,
    )  # fmt: skip
    return made.model_copy(update={"quarantined_at": utcnow() - timedelta(seconds=age_s)})


def save(control: ControlService, *entries: QuarantineEntry) -> None:
    async def run() -> None:
        redis = Redis.from_url(control.redis_url)
        for key in await redis.keys(keys.quarantine(TENANT) + "*"):
            await redis.delete(key)
        for e in entries:
            await QuarantineIndex(redis).add(e)
        await redis.aclose()

    asyncio.run(run())


Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def published(control: ControlService, topic: str, entry_id: str) -> list[Record]:
    """(key, value, headers) of the records on `topic` a retry of `entry_id` made."""

    async def read() -> list[Record]:
        assert control.kafka_bootstrap is not None
        consumer = AIOKafkaConsumer(
            bootstrap_servers=control.kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            out: list[Record] = []
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        headers = dict(r.headers)
                        if headers.get(RETRY_HEADER) == entry_id.encode():
                            out.append((r.key, r.value, list(r.headers)))
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def admin(control: ControlService) -> Iterator[httpx.Client]:
    with control.client(control.admin) as client:
        yield client


def test_a_list_filters_without_the_bytes_and_an_entry_shows_them(
    control: ControlService, admin: httpx.Client
) -> None:
    gate, arbiter = entry(1, Stage.GATE, "snow-a", age_s=2), entry(2, Stage.ARBITER, None)
    delivery = entry(3, Stage.DELIVERY, "snow-b", error=KeyError("target"))
    save(control, gate, arbiter, delivery)
    listed = admin.get(Q).json()
    assert listed["depth"] == 3
    assert [e["id"] for e in listed["items"]][-1] == gate.id  # newest first
    assert all("value" not in e for e in listed["items"])
    assert [e["id"] for e in admin.get(Q, params={"stage": "arbiter"}).json()["items"]] == [
        arbiter.id
    ]
    by_integration = admin.get(Q, params={"integration": "snow-b"}).json()["items"]
    assert [e["id"] for e in by_integration] == [delivery.id]
    assert [e["id"] for e in admin.get(Q, params={"contains": "keyerror"}).json()["items"]] == [
        delivery.id
    ]
    shown = admin.get(f"{Q}/{gate.id}").json()
    assert base64.b64decode(shown["value"]) == b"{not json"
    assert shown["error"] == "unexpected character" and shown["error_type"] == "ValueError"
    assert admin.get(f"{Q}/qr-0000000000000000").status_code == 404
    assert admin.get(f"{Q}/not-an-entry").status_code == 400


def test_a_retry_puts_the_original_record_on_the_stages_topic_and_is_audited(
    control: ControlService, admin: httpx.Client
) -> None:
    failed = entry(10, Stage.ARBITER, "snow-a", value=b'{"event": 1}')
    save(control, failed)
    r = admin.post(f"{Q}/{failed.id}/retry")
    assert r.status_code == 202, r.text
    assert r.json() == {"dry_run": False, "retried": [failed.id], "remaining": 0}
    ((key, value, headers),) = published(control, topics.LINKED, failed.id)
    original_key, original_value, original_headers = failed.original()
    assert (key, value) == (original_key, original_value)
    assert headers == [*original_headers, (RETRY_HEADER, failed.id.encode())]
    assert admin.get(f"{Q}/{failed.id}").status_code == 404
    audit = admin.get(f"/api/v1/tenants/{TENANT}/audit").json()["items"]
    assert any(
        a["action"] == "quarantine.retry"
        and a["before"]["quarantine_entries"][0]["id"] == failed.id
        for a in audit
    )


def test_a_bulk_retry_lists_first_then_goes_oldest_first(
    control: ControlService, admin: httpx.Client
) -> None:
    old, new = entry(20, Stage.GATE, "snow-a", age_s=5), entry(21, Stage.GATE, "snow-a")
    other = entry(22, Stage.DELIVERY, "snow-a")
    save(control, old, new, other)
    plan = admin.post(f"{Q}/retry", json={"stage": "gate", "dry_run": True})
    assert plan.status_code == 200
    assert plan.json() == {"dry_run": True, "retried": [new.id, old.id], "remaining": 3}
    done = admin.post(f"{Q}/retry", json={"stage": "gate"})
    assert done.status_code == 202
    assert done.json() == {"dry_run": False, "retried": [old.id, new.id], "remaining": 1}
    assert [e["id"] for e in admin.get(Q).json()["items"]] == [other.id]


def test_a_retry_the_broker_still_refuses_for_its_size_is_kept(
    control: ControlService, admin: httpx.Client
) -> None:
    huge = entry(30, Stage.RECONCILER, "snow-a", value=b"d" * 1_500_000)
    save(control, huge)
    r = admin.post(f"{Q}/{huge.id}/retry")
    assert r.status_code == 409, r.text
    assert "too large" in r.json()["reason"]
    assert admin.get(f"{Q}/{huge.id}").status_code == 200


def test_a_scoped_manager_sees_and_retries_only_their_integrations_entries(
    control: ControlService, admin: httpx.Client
) -> None:
    mine, theirs = entry(40, Stage.GATE, "snow-a"), entry(41, Stage.GATE, "snow-b")
    tenants = entry(42, Stage.GATE, None)
    save(control, mine, theirs, tenants)
    token = control.token("integration.manager", name="q-mgr", integrations=[f"{TENANT}/snow-a"])
    with control.client(token) as c:
        assert [e["id"] for e in c.get(Q).json()["items"]] == [mine.id]
        assert c.get(f"{Q}/{tenants.id}").status_code == 403
        assert c.post(f"{Q}/{theirs.id}/retry").status_code == 403
        done = c.post(f"{Q}/retry", json={})
        assert done.status_code == 202 and done.json()["retried"] == [mine.id]
    left = {e["id"] for e in admin.get(Q).json()["items"]}
    assert left == {theirs.id, tenants.id}
