"""With `features.sync_status` off (the default), a ServiceNow resolve leaves the incident.io
status alone while the text fields still flow back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tools() -> Iterator[Tools]:
    for _stack, tools in start_stack(sync_status=False):
        yield tools


def test_state_change_does_not_touch_the_incident_status(tools: Tools) -> None:
    incident = tools.declare("Status stays", "text")
    iid = incident["id"]
    sys_id = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")[0]["sys_id"]
    tools.quiesce()
    before = tools.incident(iid)["incident_status"]
    # the resolve and a title change in one save: the title flows, the status does not
    tools.edit_snow(
        sys_id,
        state="6",
        close_code="Solved (Permanently)",
        close_notes="done",
        short_description="Status stays (resolved in snow)",
    )
    wait_for(lambda: tools.incident(iid)["name"] == "Status stays (resolved in snow)", 30)
    tools.quiesce()
    assert tools.incident(iid)["incident_status"] == before
    assert tools.api_writes("incidentio", iid) == 1
