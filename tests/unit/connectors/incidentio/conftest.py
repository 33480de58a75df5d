"""Fixtures for the incident.io connector tests: a stub API server and a connector on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.registry import make_connector
from tests.unit.connectors.incidentio.helpers import NOT_FOUND, config
from tests.unit.connectors.stub_server import Stub, serve


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    async with serve(Stub(not_found=NOT_FOUND)) as running:
        yield running


@pytest.fixture
async def connector(stub: Stub) -> AsyncIterator[IncidentIoConnector]:
    conn = make_connector(config(stub.url, comment_custom_field="ServiceNow notes"))
    assert isinstance(conn, IncidentIoConnector)
    yield conn
    await conn.aclose()
