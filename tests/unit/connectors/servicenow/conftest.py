"""Fixtures for the ServiceNow connector tests: a stub Table API server and a connector on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incident_sync.connectors.registry import make_connector
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from tests.unit.connectors.servicenow.helpers import NOT_FOUND, config, mapping
from tests.unit.connectors.stub_server import Stub, serve


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    async with serve(Stub(not_found=NOT_FOUND)) as running:
        yield running


@pytest.fixture
async def connector(stub: Stub) -> AsyncIterator[ServiceNowConnector]:
    conn = make_connector(
        config(stub.url, options={"urgency": "2", "impact": "2", "category": "software"})
    )
    assert isinstance(conn, ServiceNowConnector)
    conn.mapping = mapping(sync_status=True)
    yield conn
    await conn.aclose()
