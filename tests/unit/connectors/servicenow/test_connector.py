"""ServiceNow connector against a stub Table API server: fetch, find, create and update of
linked incidents."""

from __future__ import annotations

import orjson
import pytest

from incident_sync.connectors.base import RecordNotFound, ToolError, Written
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.syncmodel.mapping import FieldMapping, MappingConfig
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


async def test_fetch_reads_record_and_latest_note(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    record = sample("rest_table_get_incident_by_sys_id_response.json")
    record["result"]["u_incident_io_id"] = "01PLATFORM"
    stub.on("GET", INCIDENT, (200, record))
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply("Rebooted the switch"))
    state = await connector.fetch(SYS_ID)
    get, journal = stub.seen
    assert get.headers["Authorization"] == BASIC
    assert get.query == READ
    assert journal.query == {
        **READ,
        "sysparm_query": f"element=work_notes^element_id={SYS_ID}^ORDERBYDESCsys_created_on",
        "sysparm_limit": "1",
        "sysparm_offset": "0",
        "sysparm_no_count": "true",
        "sysparm_fields": "value",
    }
    assert state.external_id == SYS_ID
    assert state.reference == "INC0000046"
    assert state.version == "0000000004"
    assert state.platform_incident_id == "01PLATFORM"
    assert state.fields == {
        "title": "Can't access SFA software",
        "description": "",
        "status": "open",
        "comment": "Rebooted the switch",
    }
    assert all(type(k) is str for k in state.fields)
    orjson.dumps(state.fields)  # plain str keys: orjson refuses str-subclass keys


async def test_fetch_missing_is_record_not_found(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    with pytest.raises(RecordNotFound, match="No Record found: gone"):
        await connector.fetch(SYS_ID)


async def test_find_linked(stub: Stub, connector: ServiceNowConnector) -> None:
    stub.on(
        "GET",
        "/api/now/table/incident",
        (200, {"result": [{"sys_id": SYS_ID}]}),
        (200, {"result": []}),
    )
    assert await connector.find_linked("01PLATFORM") == SYS_ID
    assert await connector.find_linked("01OTHER") is None
    first = stub.seen[0]
    assert first.query["sysparm_query"] == "u_incident_io_id=01PLATFORM"
    assert first.query["sysparm_limit"] == "1"
    assert first.query["sysparm_fields"] == "sys_id"
    with pytest.raises(ToolError):
        await connector.find_linked("x^active=true")


async def test_create_sets_correlation_and_defaults(
    stub: Stub, connector: ServiceNowConnector
) -> None:
    created = sample("rest_table_post_incident_response.json")
    created["result"]["u_incident_io_id"] = "01PLATFORM"
    stub.on("POST", "/api/now/table/incident", (201, created))
    state = await connector.create(
        "01PLATFORM",
        {"title": "Unable to connect to office wifi", "comment": "Opened from incident.io"},
    )
    (call,) = stub.calls("POST", "/api/now/table/incident")
    assert call.json() == {
        "short_description": "Unable to connect to office wifi",
        "work_notes": "Opened from incident.io",
        "u_incident_io_id": "01PLATFORM",
        "urgency": "2",
        "impact": "2",
        "category": "software",
    }
    assert call.query == READ
    assert state.external_id == "c537bae64f411200adf9f8e18110c76e"
    assert state.reference == "INC0010002"
    assert state.version == "0000000000"
    assert state.platform_incident_id == "01PLATFORM"
    assert "comment" not in state.fields


async def test_update_patches_mapped_fields(stub: Stub, connector: ServiceNowConnector) -> None:
    stub.on("PATCH", INCIDENT, (200, sample("rest_table_patch_incident_response.json")))
    written = await connector.update(
        SYS_ID, {"title": "New title", "description": None, "comment": "", "severity": "major"}
    )
    assert written.version == "0000000007"  # the PATCH response's sys_mod_count
    (call,) = stub.calls("PATCH", INCIDENT)
    # description None clears; an empty comment appends nothing; severity is not forward-mapped.
    assert call.json() == {"short_description": "New title", "description": ""}
    await connector.update(SYS_ID, {"comment": "Escalated to DBA"})
    assert stub.calls("PATCH", INCIDENT)[1].json() == {"work_notes": "Escalated to DBA"}
    assert await connector.update(SYS_ID, {"priority": "1"}) == Written()
    assert len(stub.calls("PATCH", INCIDENT)) == 2  # nothing mapped: no call


async def test_close_code_option_added_when_closing(stub: Stub) -> None:
    cfg = config(stub.url, options={"close_code": "Solved (Permanently)"})
    fwd = MappingConfig(
        field_mappings={"incident.name": "short_description", "incident.status": "state"}
    )
    conn = ServiceNowConnector(cfg, mapping=FieldMapping(fwd))
    stub.on("PATCH", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    try:
        await conn.update(SYS_ID, {"status": "closed"})
    finally:
        await conn.aclose()
    assert stub.seen[0].json() == {
        "state": "6",
        "close_code": "Solved (Permanently)",
        "close_notes": "Closed by incident-sync",
    }
