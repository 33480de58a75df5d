"""Shared by the ingress handler tests: a tiny HMAC connector, in-memory stand-ins for the
producer, the broker client and redis, and builders for the app, configs and signed posts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from incident_sync.connectors.base import Connector, RecordState, WebhookRejected, Written
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.ingress.app import build_app
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange

SECRET = b"s3cret"
MAX_BODY = 64 * 1024


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


class HmacConnector(Connector, WebhookSource):
    """`x-signature: hex(hmac(body))`; body `{"type": "update"|"noise"|"boom", "ids": [...]}`
    (and an optional "title" for every event)."""

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
                changes={"title": FieldChange(new=data.get("title", f"title {i}"))},
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

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        return Written()

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
        self.cluster = FakeCluster({topics.OBSERVATIONS})

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


def side(id_: str, tool: str = "servicenow", **kw: Any) -> IntegrationConfig:
    return IntegrationConfig(id=id_, type=tool, base_url="http://127.0.0.1:1", **kw)


PLATFORM = side("incidentio", "incidentio")
SNOW = side("prod-snow")


async def make_client(
    config: SyncConfig, producer: FakeProducer, redis: FakeRedis | None = None, **env: Any
) -> TestClient[web.Request, web.Application]:
    """`env`: settings by their variable names; the /sync routes are open (as in development)
    unless it says otherwise. `CONNECTOR_FACTORY` in `env`: the sides' connectors (default
    `HmacConnector`)."""
    factory = env.pop("CONNECTOR_FACTORY", HmacConnector)
    values: dict[str, Any] = {
        "MAX_BODY_BYTES": MAX_BODY,
        "KAFKA_IDEMPOTENCE": False,
        "SYNC_API_OPEN": True,
        **env,
    }
    settings = Settings(**values)
    app = build_app(
        settings,
        config,
        producer=cast(Any, producer),
        redis=cast(Any, redis or FakeRedis()),
        connector_factory=factory,
        publish_timeout_s=0.3,
        ensure_topics=False,
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def signed(payload: object, **headers: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {"Content-Type": "application/json", "x-signature": sign(body), **headers}


async def post(client: TestClient[Any, Any], path: str, payload: object, **headers: str) -> Any:
    body, hdrs = signed(payload, **headers)
    return await client.post(path, data=body, headers=hdrs)
