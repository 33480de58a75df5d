"""`Connector.resolve`: a record found by the reference its users know, against the
ServiceNow sandbox (the Table API as documented): by number and by sys_id; nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from incident_sync.connectors.base import RecordNotFound
from incident_sync.connectors.lookup import Found, resolve
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.sandbox.servicenow.app import build_app as servicenow_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.sandbox_harness import Harness, running


@pytest.fixture
async def sn() -> AsyncIterator[Harness]:
    async with running(lambda hook: servicenow_app(ServiceNowConfig(webhook_url=hook))) as h:
        yield h


async def test_a_servicenow_ticket_is_found_by_its_number_or_its_sys_id(sn: Harness) -> None:
    async with httpx.AsyncClient(base_url=sn.url) as ui:
        made = await ui.post("/_sandbox/table/incident", json={"short_description": "Slow"})
        await ui.post("/_sandbox/table/incident", json={"short_description": "Another"})
    ticket = made.json()["result"]
    conn = ServiceNowConnector(
        IntegrationConfig.model_validate({"id": "prod-snow", "type": "servicenow",
            "base_url": sn.url, "username": "incident-sync", "password": "secret"})
    )  # fmt: skip
    try:
        by_number = await conn.resolve(ticket["number"])
        assert by_number.external_id == ticket["sys_id"]
        assert by_number.fields["title"] == "Slow" and by_number.reference == ticket["number"]
        assert (await conn.resolve(ticket["sys_id"])).external_id == ticket["sys_id"]
        with pytest.raises(RecordNotFound):
            await conn.resolve("INC9999999")
        with pytest.raises(RecordNotFound):  # never spliced into the encoded query
            await conn.resolve("INC0010001^ORactive=true")
        found = await resolve(conn, ticket["number"])
        assert found.found is Found.FOUND and found.record == by_number
        assert (await resolve(conn, "INC9999999")).found is Found.MISSING
    finally:
        await conn.aclose()
