"""Field maps end to end on ServiceNow: the platform's "Affected team" (a select) to the ticket's
`assignment_group` through a value map, and "Affected service" (text) to `cmdb_ci` by name,
both ways. Both columns are references: the ticket holds the group's and the CI's sys_ids,
the maps name them as people do.

The real parts: broker, redis-server, the sandboxes over HTTP, the pipeline, the reconciler
and the control service as child processes; the maps are written through the control API
(checked against both sides' fields there) and the runs asked with the real `im`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.sandbox.servicenow.referenced import sys_id_of
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

TEAM_TO_GROUP = {
    "platform": "custom.Affected team",
    "tool": "assignment_group",
    "value_map": {
        "values": {"Payments": "Payments Support", "Search": "Search Support"},
        "unmapped": "refuse",
    },
}
GROUP = "sys_user_group"


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def patch(stack: Stack, **fields: Any) -> httpx.Response:
    return httpx.patch(
        f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow",
        json=fields,
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=30.0,
    )


@pytest.fixture(scope="module")
def mapped(env: tuple[Stack, Tools]) -> tuple[Stack, Tools]:
    stack, tools = env
    written = patch(stack, field_maps=[TEAM_TO_GROUP])
    assert written.status_code == 200, written.text
    # The other through the CLI: a dry run checks it against both tools and stores nothing.
    args = ("integration", "field-maps", "set", "prod-snow", "custom.Affected service")
    checked = im(stack, *args, "cmdb_ci", "--dry-run")
    assert checked == {"integration": "prod-snow", "valid": True, "problems": []}
    assert len(im(stack, "integration", "field-maps", "list", "prod-snow")["field_maps"]) == 1
    wrong = im(stack, *args, "u_nope", "--dry-run", code=1)
    assert not wrong["valid"] and "u_nope" in wrong["problems"][0]
    im(stack, *args, "cmdb_ci")
    listed = im(stack, "integration", "field-maps", "list", "prod-snow")["field_maps"]
    assert [(m["platform"], m["tool"]) for m in listed] == [
        ("custom.Affected team", "assignment_group"),
        ("custom.Affected service", "cmdb_ci"),
    ]
    time.sleep(1.5)  # the pipeline and the reconciler reload their config every 0.5 s
    return stack, tools


def ticket_of(tools: Tools, iid: str) -> dict[str, Any]:
    records = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")
    return tools.snow_record(records[0]["sys_id"])


def custom(tools: Tools, iid: str, name: str) -> str | None:
    for entry in tools.incident(iid).get("custom_field_entries") or []:
        if entry["custom_field"]["name"] == name and entry["values"]:
            value = entry["values"][0]
            option = value.get("value_option")
            return str(option["value"]) if option else value.get("value_text")
    return None


def behind_the_back(tools: Tools, tool: str, edit: Callable[[], object]) -> None:
    tools.drop_webhooks(tool, 1.0)
    try:
        edit()
    finally:
        tools.drop_webhooks(tool, 0.0)


def test_a_mapping_the_tool_cannot_hold_is_refused_naming_it(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    unknown = patch(stack, field_maps=[{"platform": "title", "tool": "u_no_such_column"}])
    assert unknown.status_code == 422
    assert "u_no_such_column" in unknown.json()["reason"]
    not_allowed = patch(
        stack,
        field_maps=[
            {
                "platform": "custom.Affected team",
                "tool": "category",
                "value_map": {"values": {"Payments": "billing"}},  # no such category choice
            }
        ],
    )
    assert not_allowed.status_code == 422
    assert "category" in not_allowed.json()["reason"] and "billing" in not_allowed.json()["reason"]
    no_platform_field = patch(stack, field_maps=[{"platform": "custom.Nope", "tool": "category"}])
    assert no_platform_field.status_code == 422
    assert "custom.Nope" in no_platform_field.json()["reason"]
    shown = im(stack, "integration", "get", "prod-snow")
    assert not shown.get("field_maps")  # nothing refused was stored


def test_mapped_fields_travel_both_ways_by_name_and_their_echo_is_known(
    mapped: tuple[Stack, Tools],
) -> None:
    _, tools = mapped
    incident = tools.declare("Checkout errors", "pay", team="Payments", service="payments-api")
    ticket = ticket_of(tools, incident["id"])
    sys_id = ticket["sys_id"]
    group = sys_id_of(GROUP, "Payments Support")
    wait_for(lambda: tools.snow_record(sys_id)["assignment_group"] == group, 30, "the group")
    assert tools.snow_record(sys_id)["cmdb_ci"] == sys_id_of("cmdb_ci", "payments-api")
    tools.quiesce()
    # The ticket's answer shows sys_ids; read back by name they are our own echo: nothing
    # is written back to the incident, and nothing more to the ticket.
    writes = tools.api_writes("servicenow", sys_id)
    edits = tools.api_writes("incidentio", incident["id"])
    time.sleep(2.0)
    tools.quiesce()
    assert tools.api_writes("servicenow", sys_id) == writes
    assert tools.api_writes("incidentio", incident["id"]) == edits

    # An agent reassigns the ticket: the incident's team follows, through the reverse map.
    tools.edit_snow(sys_id, assignment_group=sys_id_of(GROUP, "Search Support"))
    wait_for(lambda: custom(tools, incident["id"], "Affected team") == "Search", 30, "the team")
    tools.edit_snow(sys_id, cmdb_ci=sys_id_of("cmdb_ci", "search-cluster"))
    wait_for(
        lambda: custom(tools, incident["id"], "Affected service") == "search-cluster", 30, "the CI"
    )


def test_an_unresolvable_or_refused_value_is_dead_lettered_with_its_reason(
    mapped: tuple[Stack, Tools],
) -> None:
    stack, tools = mapped
    incident = tools.declare("Search slow", "p99 up", team="Search", service="search-cluster")
    sys_id = ticket_of(tools, incident["id"])["sys_id"]
    tools.quiesce()

    def dead(field: str) -> list[dict[str, Any]]:
        entries = im(stack, "integration", "dlq", "prod-snow")["items"]
        return [
            e
            for e in entries
            if e["command"]["platform_incident_id"] == incident["id"]
            and field in e["command"]["set_fields"]
        ]

    tools.edit_incident(incident["id"], service="no-such-ci")
    (entry,) = wait_for(lambda: dead("custom.Affected service"), 30, "the unresolvable CI")
    assert "no record of cmdb_ci named 'no-such-ci'" in entry["last_error"]
    assert tools.snow_record(sys_id)["cmdb_ci"] == sys_id_of("cmdb_ci", "search-cluster")

    tools.edit_incident(incident["id"], team="Platform")  # the value map names no group for it
    try:
        (refused,) = wait_for(lambda: dead("custom.Affected team"), 30, "the refused team")
    except TimeoutError:
        print(im(stack, "integration", "dlq", "prod-snow"), tools.incident(incident["id"]))
        raise
    assert "'Platform' is not in the value map" in refused["last_error"]
    assert tools.snow_record(sys_id)["assignment_group"] == sys_id_of(GROUP, "Search Support")


def test_the_reconciler_finds_and_heals_a_mapped_field_changed_behind_the_back(
    mapped: tuple[Stack, Tools],
) -> None:
    stack, tools = mapped
    incident = tools.declare("Queue stuck", "consumer lag", team="Payments", service="checkout-web")
    sys_id = ticket_of(tools, incident["id"])["sys_id"]
    wait_for(
        lambda: tools.snow_record(sys_id)["cmdb_ci"] == sys_id_of("cmdb_ci", "checkout-web"),
        30,
        "the CI",
    )
    tools.quiesce()
    ci = sys_id_of("cmdb_ci", "payments-api")
    behind_the_back(tools, "servicenow", lambda: tools.edit_snow(sys_id, cmdb_ci=ci))

    dry = im(stack, "integration", "reconcile", "prod-snow", "--dry-run")
    found = {(d["external_id"], d["field"]) for d in dry["discrepancies"]}
    assert (sys_id, "custom.Affected service") in found
    healed = im(stack, "integration", "reconcile", "prod-snow", "--auto-heal")
    assert healed["status"] == "succeeded" and healed["fixes"] >= 1
    wait_for(
        lambda: custom(tools, incident["id"], "Affected service") == "payments-api",
        30,
        "the heal",
    )


def test_a_mapped_field_changed_on_both_sides_at_once_is_parked_and_resolved(
    mapped: tuple[Stack, Tools],
) -> None:
    stack, tools = mapped
    im(stack, "integration", "configure", "prod-snow", "--conflict-strategy=manual-review")
    time.sleep(1.5)
    try:
        incident = tools.declare("Card declines", "issuer", team="Search", service="payments-api")
        iid = incident["id"]
        sys_id = ticket_of(tools, iid)["sys_id"]
        group = sys_id_of(GROUP, "Search Support")
        wait_for(lambda: tools.snow_record(sys_id)["assignment_group"] == group, 30, "the group")
        tools.quiesce()
        tools.edit_snow(sys_id, assignment_group=sys_id_of(GROUP, "Payments Support"))
        tools.edit_incident(iid, team=None)  # cleared on the platform at the same moment

        def pending() -> list[dict[str, Any]]:
            return [
                c
                for c in im(stack, "conflict", "list", "--status", "pending")["items"]
                if c["platform_incident_id"] == iid and c["field"] == "custom.Affected team"
            ]

        (parked,) = wait_for(pending, 30, "the conflict on the mapped field")
        assert parked["external"]["value"] == "Payments"  # by the reverse map, not a sys_id
        assert parked["platform"]["value"] is None
        settled = im(stack, "conflict", "resolve", parked["id"], "--use-external")
        assert settled["status"] == "resolved"
        wait_for(lambda: custom(tools, iid, "Affected team") == "Payments", 30, "the resolution")
    finally:
        im(stack, "integration", "configure", "prod-snow", "--conflict-strategy=last-write-wins")


def test_a_template_builds_the_tickets_description_from_the_summary_and_the_link(
    mapped: tuple[Stack, Tools],
) -> None:
    stack, tools = mapped
    template = {
        "platform": "description",
        "tool": "description",
        "direction": "outbound",
        "template": "{description}\n\nincident.io: {url} ({reference})",
    }
    service = {"platform": "custom.Affected service", "tool": "cmdb_ci"}
    written = patch(stack, field_maps=[TEAM_TO_GROUP, service, template])
    assert written.status_code == 200, written.text
    time.sleep(1.5)
    incident = tools.declare("Login loop", "SSO redirects forever")
    iid, link = incident["id"], f"{incident['permalink']} ({incident['reference']})"
    sys_id = ticket_of(tools, iid)["sys_id"]
    wait_for(
        lambda: (
            tools.snow_record(sys_id)["description"]
            == f"SSO redirects forever\n\nincident.io: {link}"
        ),
        30,
        "the description from the template",
    )
    tools.edit_incident(iid, summary="SSO redirect loop after the IdP change")
    wait_for(
        lambda: tools.snow_record(sys_id)["description"].startswith("SSO redirect loop after"),
        30,
        "the template written again",
    )
    tools.quiesce()
    # The ticket's description is the template's, never taken back into the summary.
    assert tools.incident(iid)["summary"] == "SSO redirect loop after the IdP change"
    assert tools.snow_record(sys_id)["description"].endswith(link)
