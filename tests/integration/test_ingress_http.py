"""The ingress against a real Tansu broker and a real redis-server (child processes), with the
real incident.io and ServiceNow connectors. The app runs in-process on a real aiohttp server.

Events are read back with a group-less consumer (partitions assigned by hand): a consumer
group join on this broker takes seconds.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from incident_sync.connectors.incidentio import signature as svix
from incident_sync.connectors.servicenow import signature as snow_sig
from incident_sync.devstack import processes
from incident_sync.ingress.app import build_app
from incident_sync.runtime.settings import Settings
from incident_sync.sandbox.servicenow.app import build_app as build_snow
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin

pytestmark = pytest.mark.integration

SVIX_KEY = secrets.token_bytes(24)
SNOW_SECRET = "snow-" + secrets.token_hex(8)
PUBLISH_TIMEOUT_S = 2.0

INCIDENTIO = IntegrationConfig(
    id="incidentio",
    type="incidentio",
    base_url="http://127.0.0.1:9",  # nothing listens: a manual sync cannot ask it
    api_key="io-key",
    webhook_secret="whsec_" + base64.b64encode(SVIX_KEY).decode(),
)
SNOW = IntegrationConfig(
    id="prod-snow",
    type="servicenow",
    base_url="http://127.0.0.1:9",
    username="sync",
    password="pw",
    webhook_secret=SNOW_SECRET,
)


@dataclass
class Env:
    broker: processes.Child
    redis: processes.Child
    settings: Settings
    client: TestClient[web.Request, web.Application]
    snow: TestClient[web.Request, web.Application]  # the ServiceNow sandbox (manual syncs)


@pytest.fixture(scope="module")
def children() -> Iterator[tuple[processes.Child, processes.Child]]:
    broker = processes.broker().start()
    redis = processes.redis().start()
    try:
        yield broker, redis
    finally:
        broker.stop()
        redis.stop()


@pytest.fixture(scope="module")
async def env(children: tuple[processes.Child, processes.Child]) -> AsyncIterator[Env]:
    broker, redis = children
    settings = Settings(
        KAFKA_BOOTSTRAP=f"127.0.0.1:{broker.port}",
        KAFKA_IDEMPOTENCE=False,
        REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
        SYNC_API_OPEN=True,  # the manual-sync routes without a token, as in development
    )
    snow = TestClient(TestServer(build_snow(ServiceNowConfig(users={"sync": "pw"}))))
    await snow.start_server()
    snow_side = SNOW.model_copy(update={"base_url": str(snow.make_url("")).rstrip("/")})
    app = build_app(
        settings,
        SyncConfig(platform=INCIDENTIO, integrations=(snow_side,)),
        publish_timeout_s=PUBLISH_TIMEOUT_S,
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Env(broker, redis, settings, client, snow)
    finally:
        await client.close()
        await snow.close()


class Inbound:
    """Reads sync.inbound from where it ended when created."""

    def __init__(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        self.consumer = consumer
        self.tps = tps

    @classmethod
    async def open(cls, settings: Settings) -> Inbound:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        parts = await consumer._client._wait_on_metadata(topics.OBSERVATIONS)
        tps = [TopicPartition(topics.OBSERVATIONS, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, not lazily after the test's publish
            await consumer.position(tp)
        return cls(consumer, tps)

    async def total(self) -> int:
        ends = await self.consumer.end_offsets(self.tps)
        return sum(ends.values())

    async def read(self, timeout_s: float = 2.0) -> list[tuple[ChangeEvent, dict[str, bytes]]]:
        out: list[tuple[ChangeEvent, dict[str, bytes]]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await self.consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for r in records:
                    out.append((codec.decode(ChangeEvent, r.value), dict(r.headers)))
            if out:
                # drain what else is already there
                more = await self.consumer.getmany(timeout_ms=50)
                for records in more.values():
                    out.extend(
                        (codec.decode(ChangeEvent, r.value), dict(r.headers)) for r in records
                    )
                return out
        return out

    async def close(self) -> None:
        await self.consumer.stop()


@pytest.fixture
async def inbound(env: Env) -> AsyncIterator[Inbound]:
    reader = await Inbound.open(env.settings)
    yield reader
    await reader.close()


def incident(iid: str, name: str = "Checkout is slow") -> dict[str, Any]:
    return {
        "id": iid,
        "reference": "INC-7",
        "name": name,
        "summary": "p99 above SLO",
        "incident_status": {"id": "s1", "name": "Investigating", "category": "live"},
        "severity": {"id": "sev", "name": "Major", "rank": 2},
        "updated_at": "2024-05-01T09:12:44.113081Z",
    }


def svix_request(
    payload: dict[str, Any], *, timestamp: int | None = None, key: bytes = SVIX_KEY
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return body, {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": svix.sign(key, msg_id, ts, body),
    }


def updated(iid: str) -> dict[str, Any]:
    event_type = "public_incident.incident_updated_v2"
    return {"event_type": event_type, event_type: incident(iid)}


async def test_accepted_only_once_the_event_is_on_the_topic(env: Env, inbound: Inbound) -> None:
    iid = "01HX" + uuid.uuid4().hex[:22].upper()
    body, headers = svix_request(updated(iid))
    resp = await env.client.post("/webhook", data=body, headers=headers)
    assert resp.status == 202, await resp.text()
    assert await resp.json() == {"status": "accepted", "events": 1}
    # acknowledged (acks=all) before the answer: it must be readable right away
    got = await inbound.read(timeout_s=2.0)
    assert len(got) == 1
    event, kafka_headers = got[0]
    assert event.external_id == iid and event.integration_id == "incidentio"
    assert event.kind is ChangeKind.UPDATED
    assert event.delivery_id == headers["webhook-id"]
    assert kafka_headers == {
        "origin": b"user",
        "delivery-id": headers["webhook-id"].encode(),
        "integration-id": b"incidentio",
    }


async def test_servicenow_webhook_and_manual_sync(env: Env, inbound: Inbound) -> None:
    made = await env.snow.post("/_sandbox/table/incident", json={"short_description": "slow"})
    sys_id = (await made.json())["result"]["sys_id"]  # a manual sync names a record its tool has
    body = orjson.dumps(
        {
            "event": "incident.updated",
            "table": "incident",
            "sys_id": sys_id,
            "number": "INC0010001",
            "sys_updated_on": "2024-05-01 09:12:44",
            "sys_updated_by": "jane",
            "sys_mod_count": "3",
            "updated_fields": ["short_description"],
            "current": {"short_description": "Checkout is slow", "u_incident_io_id": "01HX"},
        }
    )
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        snow_sig.HEADER: snow_sig.sign(SNOW_SECRET, body),
        "X-ServiceNow-Delivery": str(uuid.uuid4()),
    }
    resp = await env.client.post("/webhook/servicenow", data=body, headers=headers)
    assert resp.status == 202, await resp.text()
    resp = await env.client.post(
        "/sync/servicenow/" + sys_id, json={"updated_fields": ["short_description"]}
    )
    assert resp.status == 202
    event_id = (await resp.json())["event_id"]
    got = await inbound.read()
    while len(got) < 2:
        more = await inbound.read()
        assert more, "the manual sync event never arrived"
        got += more
    (webhook_event, _), (manual, manual_headers) = got
    assert webhook_event.external_id == sys_id and webhook_event.integration_id == "prod-snow"
    assert manual.event_id == event_id and manual.kind is ChangeKind.REFRESH
    assert manual.origin is Origin.MANUAL and manual.only_fields == ("short_description",)
    assert manual_headers["origin"] == b"manual"


async def test_a_manual_sync_of_a_record_its_tool_lacks_is_refused(
    env: Env, inbound: Inbound
) -> None:
    """The tool is asked first: a record it does not have is a 404 with the reason, a tool
    that cannot be asked a 503 with Retry-After; neither publishes anything."""
    missing = "0" * 32
    answer = await expect_refused(env, inbound, f"/sync/servicenow/{missing}", b"", {}, 404)
    assert answer["error"] == "not_found" and missing in answer["reason"]
    answer = await expect_refused(env, inbound, f"/sync/prod-snow/{missing}", b"", {}, 404)
    assert "prod-snow has no record" in answer["reason"]
    before = await inbound.total()
    resp = await env.client.post("/sync/incident/01HXNOWHERE")  # incident.io: nothing listens
    assert resp.status == 503 and resp.headers["Retry-After"]
    assert (await resp.json())["error"] == "unavailable"
    assert await inbound.total() == before


async def expect_refused(
    env: Env, inbound: Inbound, path: str, body: bytes, headers: dict[str, str], status: int
) -> dict[str, Any]:
    before = await inbound.total()
    resp = await env.client.post(path, data=body, headers=headers)
    assert resp.status == status, await resp.text()
    answer: dict[str, Any] = await resp.json()
    assert set(answer) == {"error", "reason"}
    assert await inbound.total() == before, "a refused request published something"
    return answer


async def test_refusals_publish_nothing(env: Env, inbound: Inbound) -> None:
    iid = "01HXREFUSED"
    body, headers = svix_request(updated(iid))

    bad = dict(headers, **{"webhook-signature": svix.sign(b"other-key", "m", "1", body)})
    await expect_refused(env, inbound, "/webhook", body, bad, 401)

    stale_body, stale = svix_request(updated(iid), timestamp=int(time.time()) - 3600)
    answer = await expect_refused(env, inbound, "/webhook", stale_body, stale, 401)
    assert "old" in answer["reason"]

    await expect_refused(
        env, inbound, "/webhook", body, dict(headers, **{"Content-Type": "text/plain"}), 415
    )
    huge = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    await expect_refused(env, inbound, "/webhook", huge, dict(headers), 413)

    not_json, nj_headers = b"{nope", dict(headers)
    nj_headers["webhook-signature"] = svix.sign(
        SVIX_KEY, headers["webhook-id"], headers["webhook-timestamp"], not_json
    )
    await expect_refused(env, inbound, "/webhook", not_json, nj_headers, 400)
    no_type, nt_headers = svix_request({"something": 1})
    await expect_refused(env, inbound, "/webhook", no_type, nt_headers, 422)

    answer = await expect_refused(env, inbound, "/webhooks/nobody", body, dict(headers), 404)
    assert "nobody" in answer["reason"]

    assert await inbound.read(timeout_s=0.3) == []


async def test_event_types_not_synced_are_ignored(env: Env, inbound: Inbound) -> None:
    event_type = "public_incident.follow_up_created_v1"
    body, headers = svix_request({"event_type": event_type, event_type: {"id": "f1"}})
    resp = await env.client.post("/webhook", data=body, headers=headers)
    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    assert await inbound.read(timeout_s=0.3) == []


async def test_ready_follows_redis(env: Env) -> None:
    resp = await env.client.get("/ready")
    assert resp.status == 200, await resp.text()
    env.redis.stop()
    try:
        resp = await env.client.get("/ready")
        assert resp.status == 503
        answer = await resp.json()
        assert answer["checks"]["broker"] == "ok"
        assert answer["checks"]["redis"] != "ok"
        assert (await env.client.get("/health")).status == 200
    finally:
        env.redis.start()
    resp = await env.client.get("/ready")
    assert resp.status == 200, await resp.text()


async def test_broker_outage_503_then_recovers_by_itself(env: Env) -> None:
    """Last in the module: the restarted memory broker has lost every topic."""
    env.broker.stop()
    body, headers = svix_request(updated("01HXOUTAGE"))
    started = time.monotonic()
    resp = await env.client.post("/webhook", data=body, headers=headers)
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"] == "unavailable"
    assert time.monotonic() - started < PUBLISH_TIMEOUT_S + 2
    ready = await env.client.get("/ready")
    assert ready.status == 503

    env.broker.start()  # the same port
    deadline = time.monotonic() + 30
    status = 0
    while time.monotonic() < deadline:
        body, headers = svix_request(updated("01HXBACK"))
        resp = await env.client.post("/webhook", data=body, headers=headers)
        status = resp.status
        if status == 202:
            break
        assert status == 503, await resp.text()
        await asyncio.sleep(0.5)
    assert status == 202, "the ingress did not recover after the broker came back"
    # The broker re-created the topic on its own (possibly with fewer partitions): every key
    # must land, whatever partition the cached metadata would have picked.
    for n in range(24):
        body, headers = svix_request(updated(f"01HXKEY{n:03d}"))
        resp = await env.client.post("/webhook", data=body, headers=headers)
        assert resp.status == 202, await resp.text()
    reader = await Inbound.open(env.settings)
    try:
        body, headers = svix_request(updated("01HXAFTER"))
        resp = await env.client.post("/webhook", data=body, headers=headers)
        assert resp.status == 202, await resp.text()
        got = await reader.read()
        assert [e.delivery_id for e, _ in got] == [headers["webhook-id"]]
    finally:
        await reader.close()
    resp = await env.client.get("/ready")
    assert resp.status == 200, await resp.text()
