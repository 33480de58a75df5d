"""The Jira connector lists the fields of its project's issue type (`FieldCatalogue`) against
the Jira sandbox over HTTP: the create metadata (required, allowed values, schema kinds, paged)
and the site's field list; every request is valid for the platform spec; unknown projects,
issue types and a failing tool are ToolErrors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.syncmodel.discovered import ToolField
from tests.unit.connectors.jira.helpers import API_EMAIL, API_TOKEN, config
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import Harness, running

SPEC = "jira-cloud-platform-swagger-v3.v3.json"


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
    for options, status in (({"project_key": "NOPE"}, 404), ({"issue_type": "Epic"}, None)):
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
