"""Fixtures for the ingress handler tests: the app on a real aiohttp test server, with the fake
producer and redis it was built with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from incident_sync.syncmodel.config import SyncConfig
from tests.unit.ingress.helpers import PLATFORM, SNOW, FakeProducer, FakeRedis, make_client, side


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
        integrations=(SNOW, side("quiet-snow2", "incidentio", direction="outbound")),
    )
    c = await make_client(config, producer, redis)
    yield c
    await c.close()
