"""Day one with incidents and tickets that already exist: `im integration link` ties an
existing ServiceNow ticket (opened by an agent in the sandbox, not by us) to an existing
platform incident by the ticket's number, and from then on the pipeline syncs the pair.

The real parts: broker, redis-server, the sandboxes over HTTP, the pipeline and the control
service as child processes, the real `im`. prod-snow has a trigger no incident matches, so
the pipeline makes no ticket of its own for the incidents declared here: each one stays
unlinked until a test links it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(overrides={"prod-snow": {"trigger": NEVER}})


@pytest.fixture
def stack(env: tuple[Stack, Tools]) -> Stack:
    return env[0]


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Tools:
    return env[1]


def existing(tools: Tools, name: str) -> tuple[str, dict[str, Any]]:
    """A platform incident and a ServiceNow ticket made apart, neither linked."""
    iid = tools.declare(name, f"{name}: summary")["id"]
    ticket = tools.create_snow(short_description=f"{name} (ticket)")
    tools.quiesce()
    assert tools.snow_records_for(iid) == []  # the pipeline made no ticket of its own
    return iid, ticket


def link(stack: Stack, incident: str, record: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow/links",
        json={"incident": incident, "record": record},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=30.0,
    )


def link_audits(stack: Stack, number: str) -> list[dict[str, Any]]:
    entries = im(stack, "audit", "--action", "integration.link", "--name", "prod-snow")
    return [e for e in entries["items"] if (e.get("after") or {}).get("record") == number]


def test_an_existing_ticket_linked_by_its_number_is_synced_from_then_on(
    stack: Stack, tools: Tools
) -> None:
    iid, ticket = existing(tools, "Login failures")
    number, sys_id = ticket["number"], ticket["sys_id"]
    assert number.startswith("INC")

    done = im(stack, "integration", "link", "prod-snow", "--incident", iid, "--record", number)
    assert (done["incident"], done["record"], done["record_id"]) == (iid, number, sys_id)
    assert done["result"] == "linked"
    # One sync of the pair (a refresh of the ticket): afterwards they agree.
    wait_for(
        lambda: tools.incident(iid)["name"] == tools.snow_record(sys_id)["short_description"],
        30,
        "the sync of the pair",
    )
    # The link is the pipeline's own: the ticket's edits reach the incident.
    tools.quiesce()
    tools.edit_snow(sys_id, short_description="Login failures in the EU")
    wait_for(
        lambda: tools.incident(iid)["name"] == "Login failures in the EU",
        30,
        "the ticket's rename on the incident",
    )
    tools.quiesce()

    again = im(stack, "integration", "link", "prod-snow", "--incident", iid, "--record", number)
    assert again["result"] == "unchanged" and again["record_id"] == sys_id
    assert len(link_audits(stack, number)) == 1  # the rerun wrote nothing, audited nothing
    assert tools.snow_records_for(iid) == []  # linked by the link, not by a new ticket


def test_an_unknown_number_or_incident_is_a_404_naming_it(stack: Stack, tools: Tools) -> None:
    iid, ticket = existing(tools, "Queue backlog")
    unknown = link(stack, iid, "INC9999999")
    assert unknown.status_code == 404
    assert "INC9999999" in unknown.json()["reason"] and "record" in unknown.json()["reason"]
    no_incident = link(stack, "01NOSUCHINCIDENT0000000000", ticket["number"])
    assert no_incident.status_code == 404
    assert "01NOSUCHINCIDENT0000000000" in no_incident.json()["reason"]
    assert "incident" in no_incident.json()["reason"]
    args = ("integration", "link", "prod-snow", "--incident", iid, "--record", "INC9999999")
    im(stack, *args, code=3)
    assert link_audits(stack, "INC9999999") == []


def test_a_ticket_or_incident_linked_elsewhere_is_a_409_never_a_move(
    stack: Stack, tools: Tools
) -> None:
    first, ticket = existing(tools, "Disk full")
    second, other = existing(tools, "Disk full again")
    assert link(stack, first, ticket["number"]).status_code == 201

    moved = link(stack, second, ticket["number"])  # the ticket is the first incident's
    assert moved.status_code == 409
    assert first in moved.json()["reason"]
    doubled = link(stack, first, other["number"])  # the incident has a ticket there
    assert doubled.status_code == 409
    assert ticket["sys_id"] in doubled.json()["reason"]
    args = ("integration", "link", "prod-snow", "--incident", second, "--record")
    im(stack, *args, ticket["number"], code=5)

    # The first link holds: the ticket's edits still reach the first incident only.
    tools.quiesce()
    tools.edit_snow(ticket["sys_id"], short_description="Disk full on db-1")
    wait_for(lambda: tools.incident(first)["name"] == "Disk full on db-1", 30, "the rename")
    tools.quiesce()
    assert tools.incident(second)["name"] == "Disk full again"


def configure(stack: Stack, **settings: Any) -> None:
    """prod-snow through the control API; the pipeline reloads its config every 0.5 s."""
    response = httpx.patch(
        f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow",
        json=settings,
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10.0,
    )
    assert response.status_code == 200, response.text
    time.sleep(1.5)


def test_an_outbound_only_integration_links_and_gets_the_incidents_values(
    stack: Stack, tools: Tools
) -> None:
    iid, ticket = existing(tools, "Certificate expiry")
    configure(stack, direction="outbound")
    try:
        args = ("--incident", iid, "--record", ticket["number"])
        done = im(stack, "integration", "link", "prod-snow", *args)
        assert done["result"] == "linked"
        # Its ticket is never read: the incident's own refresh pushes the incident's values.
        wait_for(
            lambda: (
                tools.snow_record(ticket["sys_id"])["short_description"] == "Certificate expiry"
            ),
            30,
            "the incident's name on the ticket",
        )
    finally:
        configure(stack, direction="bidirectional")


def test_an_operators_link_is_on_the_incidents_timeline_found_by_the_number(
    stack: Stack, tools: Tools
) -> None:
    iid, ticket = existing(tools, "Timeline of a link")
    number, sys_id = ticket["number"], ticket["sys_id"]
    im(stack, "integration", "link", "prod-snow", "--incident", iid, "--record", number)
    shown = im(stack, "incident", "timeline", number)
    assert (shown["incident"], shown["resolved_by"]) == (iid, "reference")
    (linked,) = [e for e in shown["entries"] if e["kind"] == "linked"]
    assert (linked["sides"], linked["rule"]) == (["prod-snow"], "operator")
    assert linked["detail"] == {"record": sys_id, "reference": number, "by": linked["detail"]["by"]}
    assert linked["detail"]["by"]  # the token's name
