"""The PagerDuty connector lists an incident's fields (`FieldCatalogue`) against the sandbox
over HTTP: the built-in fields it syncs (priorities from `GET /priorities`), the incident
custom fields with their options (`GET /incidents/custom_fields?include[]=field_options`);
every request is valid for the REST spec, every answer has the keys of the spec's examples
(tests/vendor); a failing tool is a ToolError."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.pagerduty import catalogue
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.syncmodel.discovered import ToolField
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.pagerduty.helpers import FROM, TOKEN, config, sample
from tests.unit.connectors.sandbox_harness import Harness, running

SPEC = "pagerduty-rest-openapiv3.json"


@pytest.fixture
async def pd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        return build_app(PagerDutyConfig(api_token=TOKEN, api_user=FROM, webhook_url=hook))

    async with running(build) as harness:
        yield harness


@pytest.fixture
async def connector(pd: Harness) -> AsyncIterator[PagerDutyConnector]:
    conn = PagerDutyConnector(config(pd.url))
    yield conn
    await conn.aclose()
    problems = [p for r in pd.requests for p in spec(SPEC).problems(r)]
    assert problems == []


async def test_lists_built_in_and_custom_fields(pd: Harness, connector: PagerDutyConnector) -> None:
    assert isinstance(connector, FieldCatalogue)
    by_name = {f.name: f for f in await connector.fields()}
    assert by_name["title"] == ToolField(
        name="title", label="Title", kind="string", required=True, max_length=1024
    )
    assert by_name["urgency"].allowed == ("high", "low")
    assert by_name["status"].allowed == ("triggered", "acknowledged", "resolved")
    assert by_name["priority"].kind == "option"
    assert by_name["priority"].allowed == ("P1", "P2", "P3", "P4", "P5")
    policy = by_name["escalation_policy"]
    assert policy.kind == "reference" and policy.reference == "escalation_policy"
    assert by_name["assignments"].kind == "user"
    environment = by_name["custom_fields.environment"]
    assert environment.kind == "option" and environment.allowed == ("prod", "staging")
    assert environment.label == "Environment" and not environment.required
    regions = by_name["custom_fields.regions"]
    assert regions.kind == "options" and regions.allowed == ("eu-west-1", "us-east-1", "ap-south-1")
    assert by_name["custom_fields.tags"].kind == "options"
    assert by_name["custom_fields.tags"].allowed is None
    assert by_name["custom_fields.customer_impact"].kind == "string"
    assert by_name["custom_fields.false_alarm"].kind == "boolean"
    assert by_name["custom_fields.customers_affected"].kind == "number"
    assert by_name["custom_fields.runbook"].kind == "string"
    listed = [r for r in pd.requests if r.path == "/incidents/custom_fields"]
    assert [r.query.get("include[]") for r in listed] == ["field_options"]
    assert all("X-EARLY-ACCESS" not in r.headers for r in listed)


async def test_a_failing_tool_is_a_tool_error(pd: Harness, connector: PagerDutyConnector) -> None:
    async with httpx.AsyncClient() as client:
        body = {"fail_status": 500, "fail_count": 1, "path_contains": "custom_fields"}
        (await client.post(f"{pd.url}/_sandbox/faults", json=body)).raise_for_status()
    with pytest.raises(ToolError) as caught:
        await connector.fields()
    assert caught.value.status == 500 and caught.value.retryable


def test_the_spec_example_reads_as_custom_fields() -> None:
    custom = sample("rest_list_custom_fields_response.json")["fields"]
    priorities = [p["name"] for p in sample("rest_list_priorities_response.json")["priorities"]]
    by_name = {f.name: f for f in catalogue.tool_fields(priorities, custom, title_max=1024)}
    environment = by_name["custom_fields.environment"]
    assert environment.kind == "option" and environment.allowed == ("abc",)
    assert environment.label == "Environment"
    assert by_name["priority"].allowed == ("P1", "P2", "P3", "P4", "P5")


async def test_the_sandbox_answers_in_the_spec_examples_shape(pd: Harness) -> None:
    """Every key of the spec's examples is in the sandbox's answers (they may say more)."""
    headers = {"Authorization": f"Token token={TOKEN}"}
    async with httpx.AsyncClient(base_url=pd.url, headers=headers) as client:
        fields = (await client.get("/incidents/custom_fields?include[]=field_options")).json()
        options = (await client.get("/incidents/custom_fields/PCF0ENV/field_options")).json()
        priorities = (await client.get("/priorities")).json()
        missing = await client.get("/incidents/custom_fields/PNOPE/field_options")
    (example,) = sample("rest_list_custom_fields_response.json")["fields"]
    assert all(set(example) <= set(f) for f in fields["fields"])
    (example_option,) = example["field_options"]
    assert all(set(example_option) <= set(o) for f in fields["fields"] for o in f["field_options"])
    assert options["field_options"]
    assert all(set(example_option) <= set(o) for o in options["field_options"])
    example_priority = sample("rest_list_priorities_response.json")["priorities"][0]
    assert all(set(example_priority) <= set(p) for p in priorities["priorities"])
    assert missing.status_code == 404
