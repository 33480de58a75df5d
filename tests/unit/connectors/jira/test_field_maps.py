"""Declared field maps (`IntegrationConfig.field_maps`) through the Jira connector against the
Jira sandbox over HTTP: a select custom field, components, a user picker and labels written
in Jira's shapes on create and edit, read back by fetch, search and webhooks; a refused value
sends nothing, a skipped one leaves the issue's field as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.jira.adf import text_to_adf
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.jira.shapes import NotWritable, native_values, to_jira
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent, FieldChange
from tests.unit.connectors.jira.helpers import API_EMAIL, API_TOKEN, SECRET
from tests.unit.connectors.jira.test_connector import SPEC, drain, jira, ui
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import Harness

__all__ = ["jira"]  # the sandbox fixture

MAPS: list[dict[str, Any]] = [
    {
        "platform": "custom.Team",
        "tool": "customfield_10050",  # the sandbox's "Severity" select
        "value_map": {"values": {"Payments": "Critical", "Search": "Major"}, "unmapped": "refuse"},
    },
    {
        "platform": "custom.Area",
        "tool": "components",
        "value_map": {"values": {"api": "API", "data": "Database, Frontend"}},  # skip
    },
    {"platform": "custom.Owner", "tool": "customfield_10060"},  # a user picker
    {"platform": "custom.Tags", "tool": "labels"},
    {"platform": "custom.Impacted", "tool": "customfield_10080"},  # a multi-select
]


@pytest.fixture
async def connector(jira: Harness) -> AsyncIterator[JiraConnector]:
    conn = JiraConnector(
        IntegrationConfig.model_validate(
            {
                "id": "prod-jira",
                "type": "jira",
                "tenant": "acme",
                "base_url": jira.url,
                "username": API_EMAIL,
                "api_key": API_TOKEN,
                "webhook_secret": SECRET,
                "options": {"project_key": "OPS"},
                "field_maps": MAPS,
            }
        )
    )
    yield conn
    await conn.aclose()
    problems = [p for r in jira.api_requests("/rest/") for p in spec(SPEC).problems(r)]
    assert problems == []


def bodies(jira: Harness, method: str, suffix: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(r.body)
        for r in jira.api_requests("/rest/api/3/issue")
        if r.method == method and r.path.endswith(suffix)
    ]


async def events(jira: Harness, connector: JiraConnector) -> list[ChangeEvent]:
    await drain(jira)
    out: list[ChangeEvent] = []
    for hook in jira.webhooks():
        headers = httpx.Headers(hook.headers)
        connector.verify(headers, hook.body)
        out.extend(connector.parse(headers, hook.body))
    return out


async def test_declared_fields_are_written_in_jiras_shapes_and_read_back(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create(
        "01HMAPS",
        {
            "title": "Checkout down",
            "custom.Team": "Payments",
            "custom.Area": "data",
            "custom.Owner": "bob@example.com",
            "custom.Tags": "checkout, eu",
            "custom.Impacted": "checkout,search",
        },
    )
    (sent,) = bodies(jira, "POST", "/issue")
    assert sent["fields"]["customfield_10050"] == {"value": "Critical"}
    assert sent["fields"]["components"] == [{"name": "Database"}, {"name": "Frontend"}]
    assert set(sent["fields"]["customfield_10060"]) == {"accountId"}
    assert sent["fields"]["labels"] == ["incident-sync-01HMAPS", "checkout", "eu"]
    assert sent["fields"]["customfield_10080"] == [{"value": "checkout"}, {"value": "search"}]
    expected = {
        "custom.Team": "Payments",
        "custom.Area": "data",
        "custom.Owner": "bob@example.com",
        "custom.Tags": "checkout, eu",
        "custom.Impacted": "checkout, search",  # a list reads back joined with ", "
    }
    assert {k: record.fields[k] for k in expected} == expected
    fetched = await connector.fetch(record.external_id)
    assert {k: fetched.fields.get(k) for k in expected} == expected
    assert fetched.platform_incident_id == "01HMAPS"  # the correlation label stayed ours
    assert await connector.find_linked("01HMAPS") == record.external_id
    many = await connector.fetch_many([record.external_id])
    assert many[record.external_id].fields["custom.Team"] == "Payments"
    (created,) = [e for e in await events(jira, connector) if e.kind.value == "created"]
    assert created.changes["custom.Team"] == FieldChange(new="Payments")
    assert created.changes["custom.Area"] == FieldChange(new="data")
    # Cleared: an empty list is sent, and the field reads back as cleared.
    written = await connector.update(record.external_id, {"custom.Impacted": ""})
    assert bodies(jira, "PUT", record.external_id)[-1]["fields"] == {"customfield_10080": []}
    assert written.stored == {"custom.Impacted": None}
    assert (await connector.fetch(record.external_id)).fields["custom.Impacted"] is None


async def test_an_edit_writes_the_mapped_value_and_its_webhook_carries_it(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create("01HMAPEDIT", {"title": "t", "custom.Team": "Payments"})
    written = await connector.update(
        record.external_id, {"custom.Team": "Search", "custom.Tags": "db"}
    )
    assert written.stored == {"custom.Team": "Search", "custom.Tags": "db"}
    (edit,) = bodies(jira, "PUT", record.external_id)
    assert edit["fields"]["customfield_10050"] == {"value": "Major"}
    assert edit["fields"]["labels"] == ["incident-sync-01HMAPEDIT", "db"]
    view = await ui(jira, "GET", f"/_sandbox/issues/{record.external_id}")
    assert view["screen"] == {"customfield_10050": "Major"}
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields["custom.Team"] == "Search"
    assert fetched.platform_incident_id == "01HMAPEDIT"
    updates = [e for e in await events(jira, connector) if e.kind.value == "updated"]
    changes = {k: v for e in updates for k, v in e.changes.items()}
    assert changes["custom.Team"] == FieldChange(old="Payments", new="Search")
    assert changes["custom.Tags"].new == "db"


async def test_a_refused_value_sends_nothing(jira: Harness, connector: JiraConnector) -> None:
    with pytest.raises(ToolError, match="'Billing' is not in the value map") as caught:
        await connector.create("01HREFUSED", {"title": "t", "custom.Team": "Billing"})
    assert not caught.value.retryable
    assert bodies(jira, "POST", "/issue") == []
    record = await connector.create("01HREFUSE2", {"title": "t", "custom.Team": "Payments"})
    with pytest.raises(ToolError) as caught:
        await connector.update(record.external_id, {"title": "new", "custom.Team": "Billing"})
    assert not caught.value.retryable
    assert bodies(jira, "PUT", record.external_id) == []
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Team"]) == ("t", "Payments")


async def test_a_skipped_value_leaves_the_issues_field_as_it_was(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create("01HSKIP", {"title": "t", "custom.Area": "api"})
    written = await connector.update(record.external_id, {"title": "u", "custom.Area": "web"})
    # Not sent (`Connector.fit` leaves it out): the write leaves the issue's value, and the
    # delivery, which fits first, remembers nothing as written there.
    assert written.stored == {"title": "u"}  # nothing is remembered as written there
    (edit,) = bodies(jira, "PUT", record.external_id)
    assert "components" not in edit["fields"]
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Area"]) == ("u", "api")
    written = await connector.update(record.external_id, {"custom.Area": "web"})
    assert written.stored == {}
    assert len(bodies(jira, "PUT", record.external_id)) == 1  # nothing more was sent


async def test_the_field_schemas_are_read_once_per_connector(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create("01HONCE", {"title": "t", "custom.Team": "Payments"})
    await connector.update(record.external_id, {"custom.Team": "Search"})
    assert len([r for r in jira.requests if r.path == "/rest/api/3/field"]) == 1
    with pytest.raises(ToolError, match="user"):
        await connector.update(record.external_id, {"custom.Owner": "nobody@example.com"})


async def test_a_persons_edit_of_the_mapped_field_comes_in_through_its_webhook(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create("01HPERSON", {"title": "t", "custom.Team": "Search"})
    path = f"/_sandbox/issues/{record.external_id}/edit"
    await ui(jira, "POST", path, fields={"customfield_10050": {"value": "Critical"}})
    await ui(jira, "POST", path, fields={"customfield_10050": {"value": "Minor"}})  # unmapped
    updates = [e for e in await events(jira, connector) if e.kind.value == "updated"]
    assert [e.changes for e in updates] == [
        {"custom.Team": FieldChange(old="Search", new="Payments")}
    ]  # Minor is not in the value map: not taken in (the edit of nothing synced is dropped)
    assert "custom.Team" not in (await connector.fetch(record.external_id)).fields


CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "string"}, "text", "text"),
        ({"type": "string", "custom": CUSTOM + "textarea"}, "a\nb", text_to_adf("a\nb")),
        ({"type": "number"}, "3", 3),
        ({"type": "number"}, "2.5", 2.5),
        ({"type": "option"}, "Major", {"value": "Major"}),
        ({"type": "option-with-child"}, "EU", {"value": "EU"}),
        ({"type": "priority"}, "High", {"name": "High"}),
        ({"type": "array", "items": "option"}, "a, b,,", [{"value": "a"}, {"value": "b"}]),
        ({"type": "array", "items": "component"}, "API", [{"name": "API"}]),
        ({"type": "array", "items": "string"}, "x,y", ["x", "y"]),
        ({"type": "array", "items": "string"}, None, []),
        ({"type": "user"}, "Bob@Example.com", {"accountId": "acc-bob"}),
        ({"type": "option"}, "", None),
    ],
)
def test_values_take_the_shape_of_their_jira_field(
    schema: dict[str, Any], value: str | None, expected: object
) -> None:
    assert to_jira("customfield_1", schema, value, {"bob@example.com": "acc-bob"}) == expected


@pytest.mark.parametrize(
    ("schema", "value"),
    [({"type": "number"}, "many"), ({"type": "issuelinks"}, "OPS-1"), ({"type": "project"}, "X")],
)
def test_values_a_jira_field_cannot_take_are_refused(schema: dict[str, Any], value: str) -> None:
    with pytest.raises(NotWritable):
        to_jira("f", schema, value, {})


def test_jira_values_read_as_text() -> None:
    issue = {
        "customfield_1": {"self": "x", "value": "Major", "id": "1"},
        "customfield_2": [{"value": "a"}, {"value": "b"}],
        "customfield_3": {"accountId": "acc", "emailAddress": "Bob@Example.com"},
        "customfield_4": {"accountId": "acc"},  # a hidden address: not known
        "customfield_5": None,
        "customfield_6": 3.0,
        "labels": ["incident-sync-01H", "eu"],
    }
    wanted = frozenset(issue) | {"customfield_9"}
    assert native_values(issue, wanted, "incident-sync-") == {
        "customfield_1": "Major",
        "customfield_2": "a, b",
        "customfield_3": "bob@example.com",
        "customfield_5": None,
        "customfield_6": "3",
        "labels": "eu",
    }
