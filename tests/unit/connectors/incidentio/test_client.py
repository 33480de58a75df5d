"""incident.io API client and connector against a stub server: fetch, find, create, edit and
list incidents, status/severity/custom-field lookups, and vendor errors."""

from __future__ import annotations

import orjson
import pytest

from incident_sync.connectors.base import RecordNotFound, ToolError, Written
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from tests.unit.connectors.incidentio.helpers import (
    INCIDENT_ID,
    config,
    sample,
)
from tests.unit.connectors.stub_server import Stub

STATUSES = {
    "incident_statuses": [
        {"id": "st-closed", "name": "Closed", "category": "closed", "rank": 9},
        {"id": "st-fixing", "name": "Fixing", "category": "live", "rank": 2},
        {"id": "st-invest", "name": "Investigating", "category": "live", "rank": 1},
        {"id": "st-triage", "name": "Triage", "category": "triage", "rank": 0},
    ]
}
SEVERITIES = {
    "severities": [
        {"id": "sev-minor", "name": "Minor", "rank": 1},
        {"id": "sev-major", "name": "Major", "rank": 2},
        {"id": "sev-crit", "name": "Critical", "rank": 3},
    ]
}
CUSTOM_FIELDS = {
    "custom_fields": [
        {"id": "cf-team", "name": "Affected Team", "field_type": "single_select"},
        {"id": "cf-notes", "name": "ServiceNow notes", "field_type": "text"},
    ]
}


def lookups(stub: Stub) -> None:
    stub.on("GET", "/v1/incident_statuses", (200, STATUSES))
    stub.on("GET", "/v1/severities", (200, SEVERITIES))
    stub.on("GET", "/v2/custom_fields", (200, CUSTOM_FIELDS))


async def test_fetch_reads_show(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on(
        "GET",
        f"/v2/incidents/{INCIDENT_ID}",
        (200, sample("rest_v2_incidents_show_response_200.json")),
    )
    record = await connector.fetch(INCIDENT_ID)
    (call,) = stub.seen
    assert call.headers["Authorization"] == "Bearer key-123"
    assert record.external_id == INCIDENT_ID
    assert record.platform_incident_id == INCIDENT_ID
    assert record.reference == "INC-123"
    assert record.version == "2021-08-17T13:28:57.801578Z"
    assert record.fields["title"] == "Our database is sad"
    assert record.fields["status"] == "open"
    assert all(type(k) is str and type(v) is str for k, v in record.fields.items())
    orjson.dumps(record.fields)  # plain str keys: orjson refuses str-subclass keys


async def test_find_linked(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on("GET", "/v2/incidents/01A", (200, {"incident": {"id": "01A"}}))
    assert await connector.find_linked("01A") == "01A"
    assert await connector.find_linked("01MISSING") is None


async def test_update_is_one_edit_call(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    edited = {"incident": {"id": "01A", "updated_at": "2024-05-06T07:08:09.123456Z"}}
    stub.on("POST", "/v2/incidents/01A/actions/edit", (200, edited))
    fields = {
        "title": "DB down",
        "description": None,
        "status": "closed",
        "severity": "MAJOR",
        "comment": "Restarted the primary",
        "escalation_policy": "ignored: not a field incident.io takes",
    }
    assert (await connector.update("01A", fields)).version == "2024-05-06T07:08:09.123456Z"
    (edit,) = stub.calls("POST", "/v2/incidents/01A/actions/edit")
    assert edit.json() == {
        "incident": {
            "name": "DB down",
            "summary": "",
            "incident_status_id": "st-closed",
            "severity_id": "sev-major",
            "custom_field_entries": [
                {"custom_field_id": "cf-notes", "values": [{"value_text": "Restarted the primary"}]}
            ],
        },
        "notify_incident_channel": False,
    }
    await connector.update("01A", {"status": "open"})
    assert stub.calls("POST", "/v2/incidents/01A/actions/edit")[1].json()["incident"] == {
        "incident_status_id": "st-invest"  # lowest-ranked live status
    }
    # Lookups are cached: one call each however many edits.
    assert len(stub.calls("GET", "/v1/incident_statuses")) == 1


async def test_update_with_nothing_to_write_sends_nothing(
    stub: Stub, connector: IncidentIoConnector
) -> None:
    assert await connector.update("01A", {"escalation_policy": "DBA"}) == Written()
    assert stub.seen == []


async def test_priority_is_a_select_option_and_assignee_the_lead_role(
    stub: Stub, connector: IncidentIoConnector
) -> None:
    lookups(stub)
    priority = {"id": "cf-prio", "name": "Priority", "field_type": "single_select"}
    stub.on(
        "GET",
        "/v2/custom_fields",
        (200, {"custom_fields": [*CUSTOM_FIELDS["custom_fields"], priority]}),
    )
    options = [{"id": "opt-p1", "value": "P1"}, {"id": "opt-p2", "value": "P2"}]
    stub.on("GET", "/v1/custom_field_options", (200, {"custom_field_options": options}))
    roles = [{"id": "role-rep", "role_type": "reporter"}, {"id": "role-lead", "role_type": "lead"}]
    stub.on("GET", "/v2/incident_roles", (200, {"incident_roles": roles}))
    stub.on("POST", "/v2/incidents/01A/actions/edit", (200, {"incident": {"id": "01A"}}))
    await connector.update("01A", {"priority": "p2", "assignee": "bob@example.com"})
    await connector.update("01A", {"priority": None, "assignee": None})
    first, second = (
        c.json()["incident"] for c in stub.calls("POST", "/v2/incidents/01A/actions/edit")
    )
    assert first == {
        "custom_field_entries": [
            {"custom_field_id": "cf-prio", "values": [{"value_option_id": "opt-p2"}]}
        ],
        "incident_role_assignments": [
            {"incident_role_id": "role-lead", "assignee": {"email": "bob@example.com"}}
        ],
    }
    assert second == {
        "custom_field_entries": [{"custom_field_id": "cf-prio", "values": []}],
        "incident_role_assignments": [{"incident_role_id": "role-lead"}],
    }
    (options_call, *_) = stub.calls("GET", "/v1/custom_field_options")
    assert options_call.query["custom_field_id"] == "cf-prio"
    with pytest.raises(ToolError, match="no option 'P9'"):
        await connector.update("01A", {"priority": "P9"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "resolved"}, "unknown status"),
        ({"severity": "apocalyptic"}, "unknown severity"),
    ],
)
async def test_unknown_values_are_not_retryable(
    stub: Stub, connector: IncidentIoConnector, fields: dict[str, str], message: str
) -> None:
    lookups(stub)
    with pytest.raises(ToolError, match=message) as info:
        await connector.update("01A", fields)
    assert info.value.retryable is False
    assert stub.calls("POST", "/v2/incidents/01A/actions/edit") == []


async def test_missing_comment_field_is_reported(stub: Stub) -> None:
    lookups(stub)
    conn = IncidentIoConnector(config(stub.url))  # default field name, absent in the account
    try:
        with pytest.raises(ToolError, match="External work notes") as info:
            await conn.update("01A", {"comment": "x"})
        assert info.value.retryable is False
        # The stale cache was re-read once before giving up.
        assert len(stub.calls("GET", "/v2/custom_fields")) == 2
    finally:
        await conn.aclose()


async def test_create_uses_idempotency_key(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    stub.on("POST", "/v2/incidents", (200, sample("rest_v2_incidents_create_response_200.json")))
    record = await connector.create("01PLATFORM", {"title": "From ServiceNow", "severity": "minor"})
    (call,) = stub.calls("POST", "/v2/incidents")
    assert call.json() == {
        "idempotency_key": "incident-sync:01PLATFORM",
        "visibility": "public",
        "name": "From ServiceNow",
        "severity_id": "sev-minor",
    }
    assert record.external_id == INCIDENT_ID


async def test_list_follows_after_cursor(stub: Stub, connector: IncidentIoConnector) -> None:
    page = sample("rest_v2_incidents_list_response_200.json")
    first = {**page, "pagination_meta": {"after": "01CURSOR", "page_size": 2}}
    last = {"incidents": [{"id": "01LAST"}], "pagination_meta": {"page_size": 2}}
    stub.on("GET", "/v2/incidents", (200, first), (200, last))
    ids = [i["id"] async for i in connector.client.list_incidents(page_size=2)]
    assert ids == [INCIDENT_ID, "01LAST"]
    calls = stub.calls("GET", "/v2/incidents")
    assert [c.query for c in calls] == [{"page_size": "2"}, {"page_size": "2", "after": "01CURSOR"}]


async def test_vendor_error_message_is_kept(stub: Stub, connector: IncidentIoConnector) -> None:
    error = {
        "type": "validation_error",
        "status": 422,
        "request_id": "631766c4",
        "errors": [
            {
                "code": "is_required",
                "message": "A severity is required to open an incident",
                "source": {"field": "severity_id"},
            }
        ],
    }
    stub.on("POST", "/v2/incidents/01A/actions/edit", (422, error))
    with pytest.raises(ToolError) as info:
        await connector.update("01A", {"title": "x"})
    assert info.value.status == 422
    assert info.value.retryable is False
    assert "A severity is required to open an incident (severity_id)" in str(info.value)
    assert "631766c4" in str(info.value)


async def test_rate_limited_is_retryable(stub: Stub, connector: IncidentIoConnector) -> None:
    stub.on("GET", "/v2/incidents/01A", (429, {"type": "rate_limited"}, {"Retry-After": "12"}))
    with pytest.raises(ToolError) as info:
        await connector.fetch("01A")
    assert info.value.retryable is True
    assert info.value.retry_after_s == 12.0


async def test_not_found(stub: Stub, connector: IncidentIoConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("01NOPE")


async def test_test_connection(stub: Stub, connector: IncidentIoConnector) -> None:
    lookups(stub)
    await connector.test_connection()
    stub.on("GET", "/v1/severities", (401, {"type": "authentication_error", "errors": []}))
    with pytest.raises(ToolError) as info:
        await connector.test_connection()
    assert info.value.status == 401
