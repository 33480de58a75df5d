"""The seed guide's `features` block in the sides file, on the real stack: the mapping file
says `sync_status: false`, the sides file's top-level block says `true`, and a resolve in
ServiceNow closes the incident.io incident. Then `reverse_sync: false`, set on the
integration through the control API, stops ServiceNow's changes from coming in while the
platform's still go out."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    # the mapping file says sync_status false; the sides file's block says true
    yield from start_stack(sides={"features": {"sync_status": True}}, sync_status=False)


def ticket(tools: Tools, name: str) -> tuple[str, str]:
    iid = tools.declare(name, "summary")["id"]
    sys_id = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")[0]["sys_id"]
    tools.quiesce()
    return iid, sys_id


def gate_events(stack: Stack) -> float:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "incident_sync_gate_events_total" and s.labels["integration"] == "prod-snow"
    )


def test_sync_status_in_the_sides_file_wins_over_the_mapping_file(
    env: tuple[Stack, Tools],
) -> None:
    _, tools = env
    iid, sys_id = ticket(tools, "Feature flags: status")
    tools.edit_snow(sys_id, state="6", close_code="Solved (Permanently)", close_notes="done")
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "closed", 30, "close")


def test_reverse_sync_off_takes_nothing_in_and_still_writes_out(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    control = httpx.Client(
        base_url=stack.url("control"),
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10,
    )
    path = "/api/v1/tenants/default/integrations/prod-snow"
    try:
        flags = control.get(path).json()["features"]
        assert flags["sync_status"] is True  # the sides file's block, seeded into the store
        changed = control.patch(path, json={"features": {**flags, "reverse_sync": False}})
        assert changed.status_code == 200, changed.text
        iid, sys_id = ticket(tools, "Feature flags: reverse off")
        before = gate_events(stack)
        tools.edit_snow(sys_id, short_description="Renamed in ServiceNow", state="6")
        wait_for(lambda: gate_events(stack) > before, 30, "the gate's decision")
        tools.edit_incident(iid, summary="Still written out")
        wait_for(lambda: tools.snow_record(sys_id)["description"] == "Still written out", 30, "out")
        tools.quiesce()
        incident = tools.incident(iid)
        assert incident["name"] == "Feature flags: reverse off"
        assert incident["incident_status"]["category"] != "closed"
    finally:
        control.patch(path, json={"features": {"reverse_sync": None}})
        control.close()
