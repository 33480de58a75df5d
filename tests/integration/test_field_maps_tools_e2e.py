"""Field maps end to end on Jira, PagerDuty and Datadog (docs/connectors.md, "Field maps"):
the platform's "Affected team" select to a Jira multi-select custom field through a value map,
its "Affected service" text to a PagerDuty incident custom field and to a Datadog text
property field; each both ways, through the real pipeline.

The real parts: broker, redis-server, the sandboxes over HTTP sending signed webhooks (echoes
of our own writes included), the ingress, the worker and the control service as child
processes. The maps come with the sides file the stack seeds the control store from.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration

TEAM_TO_SERVICES = {
    "platform": "custom.Affected team",
    "tool": "customfield_10080",  # "Affected services", a multi-select
    "value_map": {"values": {"Payments": "payments", "Search": "search", "Platform": "checkout"}},
}
SERVICE_TO_IMPACT = {"platform": "custom.Affected service", "tool": "custom_fields.customer_impact"}
SERVICE_TO_ROOT_CAUSE = {"platform": "custom.Affected service", "tool": "root_cause"}
MAPS: dict[str, dict[str, Any]] = {
    "prod-jira": {"ownership": {}, "field_maps": [TEAM_TO_SERVICES]},
    "prod-pd": {"ownership": {}, "field_maps": [SERVICE_TO_IMPACT]},
    "prod-dd": {"ownership": {}, "field_maps": [SERVICE_TO_ROOT_CAUSE]},
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(tools=("jira", "pagerduty", "datadog"), overrides=MAPS)


def jira_services(tools: Tools, issue_id: str) -> str | None:
    """The issue's "Affected services" as the agent sees them (the options' values)."""
    shown = tools.jira_issue(issue_id)["screen"].get("customfield_10080")
    return str(shown) if shown else None


def pd_value(tools: Tools, pd_id: str, name: str) -> Any:
    return tools.pd_incident(pd_id)["custom_field_values"].get(name)


def dd_value(tools: Tools, iid: str, name: str) -> Any:
    (found,) = tools.dd_incidents_for(iid)
    field = found["attributes"]["fields"].get(name) or {}
    return field.get("value")


def test_mapped_fields_reach_each_tool_in_its_shape_and_come_back(
    env: tuple[Stack, Tools],
) -> None:
    _, tools = env
    incident = tools.declare("Card auth down", "issuer", team="Payments", service="auth-api")
    iid = incident["id"]
    (issue,) = wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")
    (pd,) = wait_for(lambda: tools.pd_incidents_for(iid), 30, "the PagerDuty incident")
    (dd,) = wait_for(lambda: tools.dd_incidents_for(iid), 30, "the Datadog incident")
    wait_for(lambda: jira_services(tools, issue["id"]) == "payments", 30, "Jira's services")
    wait_for(lambda: pd_value(tools, pd["id"], "customer_impact") == "auth-api", 30, "PD's field")
    wait_for(lambda: dd_value(tools, iid, "root_cause") == "auth-api", 30, "DD's field")
    tools.quiesce()
    # Their echoes are known: nothing more is written anywhere.
    writes = [tools.api_writes(t, i) for t, i in _records(iid, issue, pd, dd)]
    time.sleep(2.0)
    tools.quiesce()
    assert [tools.api_writes(t, i) for t, i in _records(iid, issue, pd, dd)] == writes

    # Each tool's own edit comes back through its map, and reaches the others.
    tools.edit_jira(issue["id"], fields={"customfield_10080": [{"value": "search"}]})
    wait_for(lambda: tools.custom_value(iid, "Affected team") == "Search", 30, "Jira's edit")
    tools.quiesce()
    tools.set_pd_custom_fields(pd["id"], customer_impact="search-api")
    wait_for(lambda: tools.custom_value(iid, "Affected service") == "search-api", 30, "PD's edit")
    wait_for(lambda: dd_value(tools, iid, "root_cause") == "search-api", 30, "on to DD")
    tools.quiesce()
    tools.edit_dd(dd["id"], fields={"root_cause": {"type": "textbox", "value": "edge"}})
    wait_for(lambda: tools.custom_value(iid, "Affected service") == "edge", 30, "DD's edit")
    wait_for(lambda: pd_value(tools, pd["id"], "customer_impact") == "edge", 30, "on to PD")


def _records(iid: str, *records: dict[str, Any]) -> list[tuple[str, str]]:
    issue, pd, dd = records
    return [("incidentio", iid), ("jira", issue["id"]), ("pagerduty", pd["id"]),
            ("datadog", dd["id"])]  # fmt: skip
