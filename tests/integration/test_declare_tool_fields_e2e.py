"""Declare rules on the tool record's own fields (`tool.<API field name>`): ServiceNow's
assignment group, Jira's issue type and project, PagerDuty's urgency and service, Datadog's
severity field. A record matching declares one incident; one that differs in that field only
declares none.

The real parts: broker, redis-server, the sandboxes over HTTP, the pipeline and the
reconciler (polling every 3 s) as child processes. Every trigger matches no platform incident.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools
from incident_sync.sandbox.servicenow.referenced import sys_id_of
from tests.integration.conftest import start_stack
from tests.integration.test_declare_tools_e2e import declared, incidents, linked_incident, poll

pytestmark = pytest.mark.integration

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}


def rule(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"when": {"all": list(conditions)}}


RULES = {
    "prod-snow": rule(
        {"field": "severity", "equals": "critical"},
        {"field": "tool.assignment_group", "equals": "Database"},
    ),
    "prod-jira": rule(
        {"field": "tool.issuetype", "equals": "Incident"},
        {"field": "tool.project", "equals": "OPS"},
    ),
    "prod-pd": rule(
        {"field": "tool.urgency", "equals": "high"},
        {"field": "tool.service", "equals": "Checkout API"},
    ),
    "prod-dd": rule({"field": "tool.severity", "in": ["SEV-1", "SEV-2"]}),
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    overrides: dict[str, dict[str, Any]] = {
        side: {"trigger": NEVER, "declare": r} for side, r in RULES.items()
    }
    overrides["prod-pd"]["ownership"] = {}
    yield from start_stack(
        tools=("jira", "pagerduty", "datadog"),
        overrides=overrides,
        extra_env={"RECONCILE_POLL_INTERVAL_S": "3", "RECONCILE_POLL_OVERLAP_S": "2"},
        sync_severity=True,
    )


def test_a_p1_of_the_group_declares_and_one_of_another_group_does_not(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    other = tools.create_snow(
        short_description=f"Router flap {tag}",
        impact="1",
        urgency="1",
        assignment_group=sys_id_of("sys_user_group", "Network"),
    )
    ours = tools.create_snow(
        short_description=f"Replica lag {tag}",
        impact="1",
        urgency="1",
        assignment_group=sys_id_of("sys_user_group", "Database"),
    )
    pid = declared(stack, tools, "prod-snow", ours["sys_id"])
    poll(stack, "prod-snow")
    tools.quiesce()
    assert linked_incident(stack, "prod-snow", other["sys_id"]) is None
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Replica lag {tag}"


def test_an_incident_type_issue_declares_and_a_task_does_not(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    task = tools.create_jira(summary=f"Rotate keys {tag}", fields={"issuetype": {"name": "Task"}})
    issue = tools.create_jira(summary=f"Checkout 500s {tag}")
    pid = declared(stack, tools, "prod-jira", str(issue["id"]))
    poll(stack, "prod-jira")
    tools.quiesce()
    assert linked_incident(stack, "prod-jira", str(task["id"])) is None
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Checkout 500s {tag}"


def test_a_high_urgency_page_on_the_service_declares_and_a_low_one_does_not(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    low = tools.create_pd(title=f"Disk 80% {tag}", urgency="low")
    high = tools.create_pd(title=f"API down {tag}", urgency="high")
    pid = declared(stack, tools, "prod-pd", str(high["id"]))
    poll(stack, "prod-pd")
    tools.quiesce()
    assert linked_incident(stack, "prod-pd", str(low["id"])) is None
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"API down {tag}"


def test_sev_1_and_sev_2_datadog_incidents_declare_and_a_sev_3_does_not(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    made = {sev: tools.create_dd(f"Burn {sev} {tag}") for sev in ("SEV-1", "SEV-2", "SEV-3")}
    for sev, incident in made.items():
        tools.edit_dd(str(incident["id"]), severity=sev)
    for sev in ("SEV-1", "SEV-2"):
        declared(stack, tools, "prod-dd", str(made[sev]["id"]))
    poll(stack, "prod-dd")
    tools.quiesce()
    assert linked_incident(stack, "prod-dd", str(made["SEV-3"]["id"])) is None
    assert incidents(tools) == before + 2
