"""Reference columns of declared field maps (`servicenow.references`), against the sandbox over
HTTP: written by name as the referenced record's sys_id, read back by name; a name with no
record is refused before anything is written; a tool value the reverse map refuses is not
taken in, and counted."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.sandbox.servicenow.app import build_app as sn_app
from incident_sync.sandbox.servicenow.referenced import sys_id_of
from incident_sync.sandbox.servicenow.state import STATE, ServiceNowConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.sandbox_harness import running

MAPS: list[dict[str, Any]] = [
    {"platform": "custom.Service", "tool": "cmdb_ci"},
    {
        "platform": "custom.Team",
        "tool": "assignment_group",
        "value_map": {"values": {"Payments": "Payments Support"}, "unmapped": "refuse"},
    },
]


def snow(url: str) -> ServiceNowConnector:
    return ServiceNowConnector(IntegrationConfig.model_validate({
        "id": "refs-snow", "type": "servicenow", "base_url": url, "username": "incident-sync",
        "password": "secret", "field_maps": MAPS}))  # fmt: skip


def refusals() -> float:
    value = REGISTRY.get_sample_value(
        "incident_sync_field_map_refusals_total",
        {"integration": "refs-snow", "field": "custom.Team"},
    )
    return value or 0.0


async def test_references_are_written_by_name_and_read_back_by_name() -> None:
    async with running(lambda _: sn_app(ServiceNowConfig())) as sn:
        assert sn.app is not None
        store = sn.app[STATE].store
        conn = snow(sn.url)
        try:
            fields = {
                "title": "Down",
                "custom.Service": "search-cluster",
                "custom.Team": "Payments",
            }
            created = await conn.create("01INC", fields)
            stored = store.get("incident", created.external_id)
            assert stored is not None
            assert stored["cmdb_ci"] == sys_id_of("cmdb_ci", "search-cluster")
            assert stored["assignment_group"] == sys_id_of("sys_user_group", "Payments Support")
            assert created.fields["custom.Service"] == "search-cluster"
            read = await conn.fetch(created.external_id)
            assert read.fields["custom.Team"] == "Payments"
            assert read.fields["custom.Service"] == "search-cluster"
            lookups = len(sn.api_requests("/api/now/table/cmdb_ci"))
            await conn.fetch(created.external_id)
            assert len(sn.api_requests("/api/now/table/cmdb_ci")) == lookups  # cached

            writes = store.api_writes[created.external_id]
            with pytest.raises(ToolError, match="no record of cmdb_ci named 'nope'"):
                await conn.update(created.external_id, {"custom.Service": "nope"})
            assert store.api_writes[created.external_id] == writes  # nothing was sent

            before = refusals()
            group = sys_id_of("sys_user_group", "Network")  # no platform team stands for it
            store.rows["incident"][created.external_id]["assignment_group"] = group
            read = await conn.fetch(created.external_id)
            assert "custom.Team" not in read.fields
            assert refusals() == before + 1
        finally:
            await conn.aclose()
