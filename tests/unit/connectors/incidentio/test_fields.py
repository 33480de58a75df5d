"""The platform's fields: the built-ins by their canonical names, the custom fields with their
kinds and options (paged), read from incident.io's documented endpoints (the sandbox's, and
each request valid for the vendor's OpenAPI document)."""

from __future__ import annotations

import httpx
import pytest

from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.incidentio.catalogue import kind_of
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.catalog import PRIORITY_OPTIONS, TEAM_OPTIONS
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import running
from tests.unit.connectors.stub_server import Stub

SPEC = "incidentio-openapi-v3-public-schema-including-secret-endpoints.json"


@pytest.mark.parametrize(
    ("field_type", "kind"),
    [("single_select", "option"), ("multi_select", "options"), ("text", "text"),
     ("link", "string"), ("numeric", "number"), ("something_new", "text")],
)  # fmt: skip
def test_custom_field_types_map_to_kinds(field_type: str, kind: str) -> None:
    assert kind_of(field_type) == kind


def platform(url: str) -> IncidentIoConnector:
    return IncidentIoConnector(IntegrationConfig.model_validate({
        "id": "incidentio", "type": "incidentio", "base_url": url,
        "api_key": "sandbox-api-key"}))  # fmt: skip


async def test_the_platform_lists_built_in_and_custom_fields() -> None:
    async with running(lambda url: build_app(IncidentioConfig(webhook_url=url))) as io:
        conn = platform(io.url)
        assert isinstance(conn, FieldCatalogue)
        try:
            fields = {f.name: f for f in await conn.fields()}
        finally:
            await conn.aclose()
        requests = list(io.requests)
    assert {"title", "description", "status", "severity", "assignee"} <= set(fields)
    assert fields["status"].allowed is not None and "Investigating" in fields["status"].allowed
    assert fields["severity"].allowed == ("Minor", "Major", "Critical")
    assert (fields["assignee"].kind, fields["assignee"].label) == ("user", "Incident Lead")
    # The fields the options bind to canonical ones, by those names; the others as state.
    assert (fields["priority"].label, fields["priority"].allowed) == ("Priority", PRIORITY_OPTIONS)
    assert fields["comment"].kind == "text" and fields["comment"].allowed is None
    team = fields["custom.Affected team"]
    assert (team.kind, team.allowed) == ("option", TEAM_OPTIONS)
    assert [r.path for r in requests if "custom_field" in r.path].count(
        "/v1/custom_field_options"
    ) == 2  # one per select field
    checked = spec(SPEC)
    assert [p for r in requests for p in checked.problems(r)] == []


async def test_options_are_read_page_by_page(stub: Stub) -> None:
    stub.on("GET", "/v1/incident_statuses", (200, {"incident_statuses": []}))
    stub.on("GET", "/v1/severities", (200, {"severities": []}))
    stub.on("GET", "/v2/incident_roles", (200, {"incident_roles": []}))
    select = {"id": "cf-1", "name": "Region", "field_type": "single_select"}
    stub.on("GET", "/v2/custom_fields", (200, {"custom_fields": [select]}))
    page = [{"id": f"o{n}", "custom_field_id": "cf-1", "value": f"R{n}", "sort_key": n}
            for n in range(3)]  # fmt: skip
    stub.on(
        "GET",
        "/v1/custom_field_options",
        (200, {"custom_field_options": page[:2], "pagination_meta": {"after": "o1",
                                                                      "page_size": 2}}),
        (200, {"custom_field_options": page[2:], "pagination_meta": {"page_size": 2}}),
    )  # fmt: skip
    conn = platform(stub.url)
    try:
        fields = {f.name: f for f in await conn.fields()}
    finally:
        await conn.aclose()
    assert fields["custom.Region"].allowed == ("R0", "R1", "R2")
    second = stub.calls("GET", "/v1/custom_field_options")[1]
    assert second.query["after"] == "o1"


async def test_the_sandbox_pages_options_as_documented() -> None:
    async with running(lambda url: build_app(IncidentioConfig(webhook_url=url))) as io:
        headers = {"Authorization": "Bearer sandbox-api-key"}
        async with httpx.AsyncClient(base_url=io.url, headers=headers) as http:
            fields = (await http.get("/v2/custom_fields")).json()["custom_fields"]
            (prio,) = [f for f in fields if f["name"] == "Priority"]
            pages: list[list[str]] = []
            after = None
            while True:
                query = {"custom_field_id": prio["id"], "page_size": 2}
                r = await http.get("/v1/custom_field_options", params=query | (
                    {"after": after} if after else {}))  # fmt: skip
                pages.append([o["value"] for o in r.json()["custom_field_options"]])
                after = r.json()["pagination_meta"].get("after")
                if not after:
                    break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert tuple(v for p in pages for v in p) == PRIORITY_OPTIONS
