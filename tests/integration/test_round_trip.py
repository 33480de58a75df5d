"""incident.io <-> ServiceNow end to end: real broker, real redis-server, sandbox tools over
HTTP, the ingress and the faust worker as child processes. Status sync is on here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(sync_status=True)


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Tools:
    return env[1]


def declare_and_link(
    tools: Tools, name: str, summary: str = "summary"
) -> tuple[str, dict[str, Any]]:
    incident = tools.declare(name, summary)
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]


def test_create_in_incidentio_makes_exactly_one_servicenow_ticket(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Payments down", "Card auth failing for EU")
    assert record["short_description"] == "Payments down"
    assert record["description"] == "Card auth failing for EU"
    assert record["u_incident_io_id"] == iid
    assert len(tools.snow_records_for(iid)) == 1
    # exactly one write to ServiceNow (the create), none back to incident.io
    assert tools.api_writes("servicenow", record["sys_id"]) == 1
    assert tools.api_writes("incidentio", iid) == 0


def test_edit_in_incidentio_changes_the_mapped_fields(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Search slow")
    sys_id = record["sys_id"]
    tools.edit_incident(iid, name="Search slow in EU", summary="p99 at 4s")
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == "Search slow in EU", 30)
    tools.quiesce()
    current = tools.snow_record(sys_id)
    assert current["description"] == "p99 at 4s"
    assert tools.api_writes("servicenow", sys_id) == 2  # create + one update
    assert tools.api_writes("incidentio", iid) == 0


def test_an_update_message_becomes_one_work_note(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Queue backlog")
    sys_id = record["sys_id"]
    tools.edit_incident(iid, update_message="Scaled consumers to 12")
    notes = wait_for(lambda: tools.snow_record(sys_id).get("work_notes_entries"), 30, "note")
    tools.quiesce()
    notes = tools.snow_record(sys_id)["work_notes_entries"]
    assert [n["value"] for n in notes] == ["Scaled consumers to 12"]
    # a later unrelated edit carries the same most_recent_update_message: no second note
    tools.edit_incident(iid, summary="backlog draining")
    wait_for(lambda: tools.snow_record(sys_id)["description"] == "backlog draining", 30)
    tools.quiesce()
    assert len(tools.snow_record(sys_id)["work_notes_entries"]) == 1


def test_servicenow_edit_flows_back_to_incidentio_without_a_loop(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Login errors")
    sys_id = record["sys_id"]
    tools.edit_snow(
        sys_id, short_description="Login errors for SSO users", description="Okta callback 502"
    )
    wait_for(lambda: tools.incident(iid)["name"] == "Login errors for SSO users", 30, "rename")
    tools.quiesce()
    assert tools.incident(iid)["summary"] == "Okta callback 502"
    # one write to incident.io for the one real change; its echo wrote nothing back
    assert tools.api_writes("incidentio", iid) == 1
    assert tools.api_writes("servicenow", sys_id) == 1  # only the create


def test_resolving_in_servicenow_closes_the_incident_when_status_sync_is_on(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Disk full on db-3")
    tools.edit_snow(
        record["sys_id"], state="6", close_code="Solved (Permanently)", close_notes="Rotated logs"
    )
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "closed", 30, "close")
    tools.quiesce()
    assert tools.api_writes("incidentio", iid) == 1


def sign_snow(stack: Stack, body: bytes) -> str:
    mac = hmac.new(stack.servicenow_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def test_the_same_webhook_delivered_three_times_writes_once(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, record = declare_and_link(tools, "Cache stampede")
    sys_id = record["sys_id"]
    body = orjson.dumps(
        {
            "event": "incident.updated",
            "table": "incident",
            "sys_id": sys_id,
            "number": record["number"],
            "sys_updated_on": "2030-01-01 00:00:00",
            "sys_updated_by": "john.smith",
            "sys_mod_count": "7",
            "updated_fields": ["short_description"],
            "old_values": {"short_description": "Cache stampede"},
            "current": {
                **record,
                "short_description": "Cache stampede on /home",
                "work_notes": "",
                "comments": "",
            },
        }
    )
    headers = {
        "Content-Type": "application/json",
        "X-ServiceNow-Signature": sign_snow(stack, body),
        "X-ServiceNow-Delivery": uuid.uuid4().hex,
    }
    for _ in range(3):
        response = tools.ingress.post("/webhook/servicenow", content=body, headers=headers)
        assert response.status_code == 202, response.text
    wait_for(lambda: tools.incident(iid)["name"] == "Cache stampede on /home", 30, "rename")
    tools.quiesce()
    assert tools.api_writes("incidentio", iid) == 1


def test_manual_sync_of_an_incident_repairs_a_drifted_ticket(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Manual sync target")
    sys_id = record["sys_id"]
    tools.drop_webhooks("servicenow", 1.0)  # an edit the service never hears about
    try:
        tools.edit_snow(sys_id, short_description="drifted")
        tools.quiesce()
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    assert tools.incident(iid)["name"] == "Manual sync target"
    response = tools.ingress.post(f"/sync/incident/{iid}")
    assert response.status_code == 202, response.text
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == "Manual sync target", 30)
    tools.quiesce()
    assert tools.incident(iid)["name"] == "Manual sync target"


def test_manual_sync_needs_the_token(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    url = f"{stack.url('ingress')}/sync/incident/01ANYTHING"
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_manual_sync_of_a_ticket_pulls_only_the_named_fields(tools: Tools) -> None:
    iid, record = declare_and_link(tools, "Reverse manual sync", "before")
    sys_id = record["sys_id"]
    tools.drop_webhooks("servicenow", 1.0)
    try:
        tools.edit_snow(sys_id, short_description="renamed in snow", description="new text")
        tools.quiesce()
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    response = tools.ingress.post(
        f"/sync/servicenow/{sys_id}",
        json={"updated_fields": ["description"], "old_values": {"description": "before"}},
    )
    assert response.status_code == 202, response.text
    wait_for(lambda: tools.incident(iid)["summary"] == "new text", 30, "the summary")
    tools.quiesce()
    assert tools.incident(iid)["name"] == "Reverse manual sync"
    assert tools.api_writes("incidentio", iid) == 1
