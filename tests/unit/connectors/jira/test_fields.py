"""The Jira connector lists the fields of its project's issue type (`FieldCatalogue`) against
the Jira sandbox over HTTP: the create metadata (required, allowed values, schema kinds, paged)
and the site's field list; every request is valid for the platform spec, every answer has the
keys of the spec's examples (tests/vendor); unknown projects, issue types and a failing tool
are ToolErrors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.jira import catalogue
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.syncmodel.discovered import ToolField
from tests.unit.connectors.jira.helpers import API_EMAIL, API_TOKEN, SAMPLES, config, sample
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import Harness, running

SPEC = "jira-cloud-platform-swagger-v3.v3.json"


def site_fields() -> list[dict[str, Any]]:
    """The spec's example of `GET /field` (a list, where `sample` reads objects)."""
    found: list[dict[str, Any]] = orjson.loads(
        (SAMPLES / "rest_getFields_response_200.json").read_bytes()
    )
    return found


@pytest.fixture
async def jira() -> AsyncIterator[Harness]:
    def build(hook: str) -> object:
        return build_app(JiraConfig(api_users=((API_EMAIL, API_TOKEN),), webhook_url=hook))

    async with running(build) as harness:  # type: ignore[arg-type]
        yield harness
    problems = [p for r in harness.api_requests("/rest/") for p in spec(SPEC).problems(r)]
    assert problems == []


@pytest.fixture
async def connector(jira: Harness) -> AsyncIterator[JiraConnector]:
    conn = JiraConnector(config(jira.url))
    yield conn
    await conn.aclose()


async def test_lists_the_create_screen_and_the_system_fields(connector: JiraConnector) -> None:
    assert isinstance(connector, FieldCatalogue)
    listed = await connector.fields()
    by_name = {f.name: f for f in listed}
    assert by_name["summary"] == ToolField(
        name="summary", label="Summary", kind="string", required=True, max_length=255
    )
    description = by_name["description"]
    assert description.kind == "text" and description.max_length == 32_767
    assert not description.required
    priority = by_name["priority"]
    assert priority.kind == "option"
    assert priority.allowed == ("Highest", "High", "Medium", "Low", "Lowest")
    assert by_name["components"].kind == "options"
    assert by_name["components"].allowed == ("API", "Database", "Frontend")
    assert by_name["labels"].kind == "options" and by_name["labels"].allowed is None
    assert by_name["assignee"].kind == "user" and by_name["assignee"].reference == "user"
    assert by_name["project"].kind == "reference" and by_name["project"].reference == "project"
    assert by_name["project"].required and by_name["issuetype"].required
    assert by_name["duedate"].kind == "datetime"
    severity = by_name["customfield_10050"]
    assert severity.label == "Severity" and severity.kind == "option" and severity.required
    assert severity.allowed == ("Critical", "Major", "Minor")
    picker = by_name["customfield_10060"]
    assert picker.kind == "user" and picker.label == "On-call engineer" and not picker.required
    assert "customfield_10070" not in by_name  # on no screen of the project
    # off the create screen: the system fields, read only but for status (transitions)
    assert by_name["status"].writable and by_name["status"].kind == "option"
    assert not by_name["created"].writable and by_name["created"].kind == "datetime"
    assert not by_name["resolution"].writable
    assert all(f.writable for f in listed[: listed.index(by_name["customfield_10060"]) + 1])


async def test_another_issue_type_has_its_own_screen(jira: Harness) -> None:
    connector = JiraConnector(config(jira.url, issue_type="task"))
    try:
        by_name = {f.name: f for f in await connector.fields()}
    finally:
        await connector.aclose()
    assert "customfield_10050" not in by_name  # not on this screen
    assert not by_name["components"].writable  # a system field off the screen
    assert by_name["summary"].required and by_name["priority"].writable


async def test_follows_the_create_metadata_pages(jira: Harness, connector: JiraConnector) -> None:
    whole = await connector.client.create_fields("OPS", "10001")
    paged = await connector.client.create_fields("OPS", "10001", page_size=5)
    assert [m["fieldId"] for m in paged] == [m["fieldId"] for m in whole] and len(whole) > 10
    screen = "/rest/api/3/issue/createmeta/OPS/issuetypes/"
    starts = [r.query["startAt"] for r in jira.api_requests(screen)]
    assert starts == ["0", "0", "5", "10"]


async def test_unknown_project_type_and_failures_are_tool_errors(jira: Harness) -> None:
    cases = (
        ({"project_key": "NOPE"}, 404),
        ({"issue_type": "Epic"}, None),
        ({"project_key": ""}, None),
    )
    for options, status in cases:
        connector = JiraConnector(config(jira.url, **options))
        try:
            with pytest.raises(ToolError) as caught:
                await connector.fields()
        finally:
            await connector.aclose()
        assert caught.value.status == status and not caught.value.retryable
    connector = JiraConnector(config(jira.url))
    async with httpx.AsyncClient() as client:
        body = {"fail_status": 500, "fail_count": 1, "path_contains": "/field"}
        (await client.post(f"{jira.url}/_sandbox/faults", json=body)).raise_for_status()
    try:
        with pytest.raises(ToolError) as caught:
            await connector.fields()
    finally:
        await connector.aclose()
    assert caught.value.status == 500 and caught.value.retryable


def test_the_spec_examples_read_as_fields() -> None:
    site = site_fields()
    screen = sample("rest_getCreateIssueMetaIssueTypeId_response_200.json")["fields"]
    by_name = {f.name: f for f in catalogue.tool_fields(screen, site)}
    # the example has no schema: a field of unknown type is listed as a string
    assignee = ToolField(name="assignee", label="Assignee", kind="string", required=True)
    assert by_name["assignee"] == assignee
    description = by_name["description"]  # off the screen: read only
    assert description.kind == "text" and description.max_length == 32_767
    assert not description.writable
    assert by_name["summary"].max_length == 255 and by_name["summary"].kind == "string"


async def test_the_sandbox_answers_in_the_spec_examples_shape(jira: Harness) -> None:
    """Every key of the spec's examples is in the sandbox's answers (they may say more)."""
    auth = httpx.BasicAuth(API_EMAIL, API_TOKEN)
    async with httpx.AsyncClient(base_url=jira.url + "/rest/api/3", auth=auth) as client:
        site = (await client.get("/field")).json()
        types = (await client.get("/issue/createmeta/OPS/issuetypes")).json()
        screen = (await client.get("/issue/createmeta/OPS/issuetypes/10001")).json()
    example = site_fields()
    assert all(set(example[0]) <= set(f) for f in site)
    example_types = sample("rest_getCreateIssueMetaIssueTypes_response_200.json")
    assert set(example_types) <= set(types)
    assert all(set(example_types["issueTypes"][0]) <= set(t) for t in types["issueTypes"])
    example_screen = sample("rest_getCreateIssueMetaIssueTypeId_response_200.json")
    assert set(example_screen) <= set(screen)
    assert all(set(example_screen["fields"][0]) | {"schema"} <= set(f) for f in screen["fields"])
