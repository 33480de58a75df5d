"""The Datadog connector lists an incident's fields (`FieldCatalogue`) from the sandbox's
`GET /api/v2/incidents/config/user-defined-fields`, over HTTP: kinds, required, valid values,
no length limits; deleted definitions left out; pages followed; the fields of the incidents
Datadog answered (tests/vendor) all described; a failing tool is a ToolError."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.sandbox.datadog.app import DEFAULT_FIELDS, DatadogConfig, build_app
from incident_sync.syncmodel.discovered import ToolField
from tests.unit.connectors.datadog.test_connector import SAMPLES, config
from tests.unit.connectors.sandbox_harness import Harness, running


@pytest.fixture
async def dd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        return build_app(DatadogConfig(webhook_url=hook))

    async with running(build) as harness:
        yield harness


@pytest.fixture
async def connector(dd: Harness) -> AsyncIterator[DatadogConnector]:
    conn = DatadogConnector(config(dd.url))
    yield conn
    await conn.aclose()


async def test_lists_the_incident_fields_with_kinds_and_values(
    connector: DatadogConnector,
) -> None:
    assert isinstance(connector, FieldCatalogue)
    by_name = {f.name: f for f in await connector.fields()}
    assert by_name["title"] == ToolField(name="title", label="Title", kind="string", required=True)
    severity = by_name["severity"]
    assert severity.kind == "option" and severity.label == "Severity"
    assert severity.allowed == ("UNKNOWN", "SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5")
    assert by_name["state"].allowed == ("active", "stable", "resolved")
    assert by_name["summary"].kind == "text" and by_name["summary"].allowed is None
    assert by_name["services"].kind == "options" and by_name["services"].allowed is None
    environment = by_name["environment"]
    assert environment.required and environment.allowed == ("prod", "staging")
    assert by_name["customers_affected"].kind == "number"
    # The API documents no value shape for a number: not written (a field map is refused).
    assert not by_name["customers_affected"].writable
    assert "old_region" not in by_name  # soft-deleted
    # every field an incident of the sandbox carries is described
    assert set(DEFAULT_FIELDS) <= set(by_name)
    assert all(f.max_length is None for f in by_name.values())
    assert all(f.writable for f in by_name.values() if f.name != "customers_affected")


async def test_follows_the_pages(dd: Harness, connector: DatadogConnector) -> None:
    whole = await connector.client.user_defined_fields()
    paged = await connector.client.user_defined_fields(page_size=5)
    assert [d["id"] for d in paged] == [d["id"] for d in whole] and len(whole) > 8
    numbers = [r.query["page[number]"] for r in dd.api_requests("/api/v2/incidents/config")]
    assert numbers == ["0", "0", "1", "2"]


async def test_a_failing_tool_is_a_tool_error(dd: Harness, connector: DatadogConnector) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(f"{dd.url}/_sandbox/faults", json={"fail_status": 500, "fail_count": 1})
    with pytest.raises(ToolError) as caught:
        await connector.fields()
    assert caught.value.status == 500
    bad = DatadogConnector(config(dd.url).model_copy(update={"password": "wrong"}))
    try:
        with pytest.raises(ToolError) as caught:
            await bad.fields()
        assert caught.value.status == 403 and not caught.value.retryable
    finally:
        await bad.aclose()


async def test_the_recorded_incidents_fields_are_described(connector: DatadogConnector) -> None:
    """Every field of an incident Datadog answered (tests/vendor) has a definition of its
    type in the sandbox's listing."""
    codes = {"dropdown": 1, "multiselect": 2, "textbox": 3, "autocomplete": 6}
    definitions = {
        d["attributes"]["name"]: d["attributes"]["type"]
        for d in await connector.client.user_defined_fields()
    }
    for name in (
        "rest_v2_incidents_get_response_200.json",
        "rest_v2_incidents_create_response_201.json",
    ):
        recorded = orjson.loads((SAMPLES / name).read_bytes())["data"]["attributes"]["fields"]
        assert {k: definitions.get(k) for k in recorded} == {
            k: codes[v["type"]] for k, v in recorded.items()
        }
