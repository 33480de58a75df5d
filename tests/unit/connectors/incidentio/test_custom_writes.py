"""The platform's custom fields written by name (`incidentio.edit.custom_entry`), against the
sandbox over HTTP, each request valid for the vendor's OpenAPI document: a select by its
option's value, a text as given, a catalog-backed field by the entry a name, alias or
external id stands for; a name with no entry is refused before anything is written."""

from __future__ import annotations

import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import running

SPEC = "incidentio-openapi-v3-public-schema-including-secret-endpoints.json"


def platform(url: str) -> IncidentIoConnector:
    return IncidentIoConnector(IntegrationConfig.model_validate({
        "id": "incidentio", "type": "incidentio", "base_url": url,
        "api_key": "sandbox-api-key"}))  # fmt: skip


async def test_custom_fields_are_written_by_name_and_read_back_by_name() -> None:
    async with running(lambda url: build_app(IncidentioConfig(webhook_url=url))) as io:
        conn = platform(io.url)
        try:
            created = await conn.create("01HX", {"title": "Refunds stuck"})
            values = {
                "custom.Team": "team-search",  # the entry's external id
                "custom.Affected team": "Payments",
                "custom.Affected service": "refunds-api",
            }
            written = await conn.update(created.external_id, values)
            assert written.stored == {
                "custom.Team": "Search",  # shown by the entry's name
                "custom.Affected team": "Payments",
                "custom.Affected service": "refunds-api",
            }
            read = await conn.fetch(created.external_id)
            assert read.fields["custom.Team"] == "Search"
            edits = len(io.api_requests("/v2/incidents/"))
            with pytest.raises(ToolError, match="no catalog entry named 'Billing'"):
                await conn.update(created.external_id, {"custom.Team": "Billing"})
            assert len(io.api_requests("/v2/incidents/")) == edits  # nothing was sent
        finally:
            await conn.aclose()
        requests = list(io.requests)
    problems = [p for r in requests for p in spec(SPEC).problems(r)]
    assert problems == []
