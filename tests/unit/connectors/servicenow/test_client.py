"""ServiceNow Table API client against a stub server: the requests each method sends, and how
rate limits, vendor errors and unreachable instances surface as ToolErrors."""

from __future__ import annotations

import time

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from tests.unit.connectors.servicenow.helpers import (
    BASIC,
    INCIDENT,
    READ,
    SYS_ID,
    config,
    note_reply,
    sample,
)
from tests.unit.connectors.stub_server import Stub


async def test_client_methods(stub: Stub) -> None:
    patch = sample("rest_table_patch_incident_response.json")
    stub.on(
        "POST", "/api/now/table/incident", (201, sample("rest_table_post_incident_response.json"))
    )
    stub.on("PATCH", INCIDENT, (200, patch))
    stub.on(
        "GET", "/api/now/table/incident", (200, sample("rest_table_get_list_problem_response.json"))
    )
    stub.on(
        "POST",
        "/api/now/table/change_request",
        (201, {"result": {"sys_id": "c1", "number": "CHG0000001"}}),
    )
    stub.on(
        "GET",
        "/api/now/table/change_request/c1",
        (200, {"result": {"sys_id": "c1", "type": "normal"}}),
    )
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply(None))
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(
            http,
            integration="prod-snow",
            base_url=stub.url,
            auth=httpx.BasicAuth("incident.sync", "pw"),
            timeout_s=5,
        )
        await client.test_connection()
        assert stub.seen[-1].query["sysparm_limit"] == "1"

        created = await client.create_incident(
            short_description="Unable to connect to office wifi",
            urgency="2",
            impact="2",
            assignment_group="287ebd7da9fe198100f92cc8d1d2154e",
        )
        assert stub.seen[-1].json() == {
            "short_description": "Unable to connect to office wifi",
            "urgency": "2",
            "impact": "2",
            "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",
        }
        # Reference objects in the sample are flattened to their sys_id.
        assert created["assignment_group"] == "287ebd7da9fe198100f92cc8d1d2154e"

        rows = await client.search_incidents(
            "active=true^ORDERBYnumber", limit=5, offset=10, fields=["number"]
        )
        assert rows[0]["number"] == "PRB0000050"
        assert stub.seen[-1].query == {
            **READ,
            "sysparm_query": "active=true^ORDERBYnumber",
            "sysparm_limit": "5",
            "sysparm_offset": "10",
            "sysparm_no_count": "true",
            "sysparm_fields": "number",
        }

        await client.add_work_note(SYS_ID, "note")
        assert stub.seen[-1].json() == {"work_notes": "note"}
        await client.close_incident(SYS_ID, "Solved (Permanently)", "Rolled back")
        assert stub.seen[-1].json() == {
            "state": "6",
            "close_code": "Solved (Permanently)",
            "close_notes": "Rolled back",
        }
        updated = await client.update_incident(SYS_ID, {"urgency": "1"})
        assert updated["urgency"] == "1"

        change = await client.create_change_request("Deploy fix", "Roll back v2")
        assert change["number"] == "CHG0000001"
        assert stub.seen[-1].json() == {
            "short_description": "Deploy fix",
            "description": "Roll back v2",
            "type": "normal",
        }
        assert (await client.get_change_request("c1"))["type"] == "normal"
        assert await client.latest_work_note(SYS_ID) is None
        assert all(s.headers["Authorization"] == BASIC for s in stub.seen)
        assert all(s.query.items() >= READ.items() for s in stub.seen)


async def test_rate_limit_with_retry_after(stub: Stub, connector: ServiceNowConnector) -> None:
    limited = sample("error_429_rate_limit_exceeded_response.json")
    stub.on("GET", INCIDENT, (429, limited, {"Retry-After": "7", "X-RateLimit-Limit": "100"}))
    with pytest.raises(ToolError) as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.status == 429
    assert info.value.retryable is True
    assert info.value.retry_after_s == 7.0
    assert "Rate limit exceeded: Rate limit of 100 requests per hour" in str(info.value)


async def test_rate_limit_with_reset_only(stub: Stub, connector: ServiceNowConnector) -> None:
    reset = str(int(time.time()) + 30)
    stub.on(
        "GET",
        INCIDENT,
        (429, {"error": {"message": "Rate limit exceeded"}}, {"X-RateLimit-Reset": reset}),
    )
    with pytest.raises(ToolError) as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.retryable is True
    assert info.value.retry_after_s is not None and 25 <= info.value.retry_after_s <= 31


async def test_validation_error_not_retryable(stub: Stub, connector: ServiceNowConnector) -> None:
    error = {
        "error": {"message": "Invalid state", "detail": "Close code is mandatory"},
        "status": "failure",
    }
    stub.on("PATCH", INCIDENT, (403, error))
    with pytest.raises(ToolError, match="Invalid state: Close code is mandatory") as info:
        await connector.update(SYS_ID, {"status": "closed", "title": "t"})
    assert info.value.retryable is False


async def test_hibernating_instance_is_retryable(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    stub.on("GET", INCIDENT, (200, b"<html>Your instance is hibernating</html>"))
    with pytest.raises(ToolError, match="expected a JSON object") as info:
        await connector.client.get_incident(SYS_ID)
    assert info.value.retryable is True


async def test_unreachable_instance_is_retryable() -> None:
    conn = ServiceNowConnector(config("http://127.0.0.1:9", timeout_s=2))
    try:
        with pytest.raises(ToolError) as info:
            await conn.test_connection()
        assert info.value.retryable is True
    finally:
        await conn.aclose()
