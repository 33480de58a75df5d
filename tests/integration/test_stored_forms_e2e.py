"""What a tool stores is not always what we sent, end to end: real broker, redis-server, the
sandboxes over HTTP (each keeping its vendor's limits and habits), the pipeline, the control
service and the reconciler, every run asked for with the real `im`.

- A title longer than a tool keeps is cut there, visibly; its echo, a manual sync of the tool
  and a reconcile all know the cut value as ours: the platform keeps the whole title.
- Jira's default priority, PagerDuty's on-call assignee and ServiceNow's whitespace business
  rule store another form of what we sent (or of nothing): no run finds drift there, and after
  a heal the next run finds nothing.
- A heal the tool cannot take is reported once as unhealable, with its reason, and not sent
  again until a side's value changes.

Ownership: the tool types' defaults for Jira and PagerDuty (the platform owns Jira's
priority, PagerDuty owns its assignee), none for ServiceNow (the seed guide's slice).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel.limits import MARKER
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

# Jira's priorities as this project maps them: no name for P5.
JIRA_OPTIONS = {"project_key": "OPS", "webhook_auth": "hmac",
                "priority_map": "Highest=P1,High=P2,Medium=P3,Low=P4"}  # fmt: skip
LONG_TITLE = "Checkout latency above the SLO in eu-west-1 after the 14:05 deploy; " * 6


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(tools=("jira", "pagerduty"), overrides={"prod-jira": {
        "options": JIRA_OPTIONS}})  # fmt: skip


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Iterator[Tools]:
    tools = env[1]
    yield tools
    tools.sn.post("/_sandbox/customizations", json={"collapse_spaces": []}).raise_for_status()


def declare(tools: Tools, name: str, **extra: Any) -> tuple[str, str, str, str]:
    """A platform incident and its Jira issue, PagerDuty incident and ServiceNow ticket."""
    iid = tools.declare(name, f"{name[:40]}: summary", **extra)["id"]
    issue = wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")[0]["id"]
    pd = wait_for(lambda: tools.pd_incidents_for(iid), 30, "the PagerDuty incident")[0]["id"]
    ticket = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")[0]["sys_id"]
    tools.quiesce()
    return iid, issue, pd, ticket


def reconcile(stack: Stack, integration: str, *options: str) -> dict[str, Any]:
    run: dict[str, Any] = im(stack, "integration", "reconcile", integration, *options)
    assert run["status"] == "succeeded", run
    return run


def found_for(run: dict[str, Any], iid: str) -> list[tuple[str, str]]:
    return [(d["field"], d["heal"]) for d in run["discrepancies"]
            if d["platform_incident_id"] == iid]  # fmt: skip


def behind_the_back(tools: Tools, tool: str, edit: Callable[[], object]) -> None:
    tools.drop_webhooks(tool, 1.0)
    try:
        edit()
    finally:
        tools.drop_webhooks(tool, 0.0)


def test_a_long_title_is_cut_in_each_tool_and_never_taken_back(
    env: tuple[Stack, Tools], tools: Tools
) -> None:
    stack, _ = env
    iid, issue, pd, ticket = declare(tools, LONG_TITLE)
    summary = tools.jira_issue(issue)["summary"]
    short = tools.snow_record(ticket)["short_description"]
    for value, limit in ((summary, 255), (short, 160)):
        assert len(value) <= limit and value.endswith(MARKER), value
        assert LONG_TITLE.startswith(value[: -len(MARKER)])
    assert tools.pd_incident(pd)["title"] == LONG_TITLE  # within PagerDuty's 1,024
    # A person's edit of another field brings the issue back whole: the cut title is ours.
    tools.edit_jira(issue, description="Rolled back at 14:20")
    wait_for(lambda: tools.incident(iid)["summary"] == "Rolled back at 14:20", 30, "the edit")
    # An operator's manual sync re-reads every linked record and pushes it.
    im(stack, "integration", "sync", "prod-jira")
    im(stack, "integration", "sync", "prod-snow")
    tools.quiesce()
    assert tools.incident(iid)["name"] == LONG_TITLE
    for integration in ("prod-jira", "prod-snow", "prod-pd"):
        assert found_for(reconcile(stack, integration, "--dry-run"), iid) == []


def test_the_stored_forms_of_our_writes_are_no_drift_before_or_after_a_heal(
    env: tuple[Stack, Tools], tools: Tools
) -> None:
    stack, _ = env
    rule = {"collapse_spaces": ["short_description"]}
    tools.sn.post("/_sandbox/customizations", json=rule).raise_for_status()
    # No priority (Jira fills in Medium), no lead (PagerDuty assigns the on-call user), and
    # double spaces ServiceNow's business rule collapses.
    iid, issue, pd, ticket = declare(tools, "Disk  full  on  db-1")
    assert tools.jira_issue(issue)["priority"] == "Medium"
    assert tools.pd_incident(pd)["assignee_emails"]
    assert tools.snow_record(ticket)["short_description"] == "Disk full on db-1"
    for integration in ("prod-jira", "prod-pd", "prod-snow"):
        assert found_for(reconcile(stack, integration, "--auto-heal"), iid) == [], integration
    # A rename the pipeline never heard of: the heal writes it, ServiceNow stores it its way.
    behind_the_back(tools, "incidentio", lambda: tools.edit_incident(iid, name="Disk  still  full"))
    healed = reconcile(stack, "prod-snow", "--auto-heal")
    assert found_for(healed, iid) == [("title", "take_platform")]
    wait_for(lambda: tools.snow_record(ticket)["short_description"] == "Disk still full", 30,
             "the heal")  # fmt: skip
    tools.quiesce()
    writes = tools.api_writes("servicenow", ticket), tools.api_writes("incidentio", iid)
    for _ in range(2):
        assert found_for(reconcile(stack, "prod-snow", "--auto-heal"), iid) == []
        tools.quiesce()
    assert (tools.api_writes("servicenow", ticket), tools.api_writes("incidentio", iid)) == writes
    assert tools.incident(iid)["name"] == "Disk  still  full"


def unhealable_count(stack: Stack) -> float:
    text = httpx.get(stack.url("reconciler") + "/metrics").text
    pattern = (
        r'incident_sync_drift_unhealable_total\{field="priority",integration="prod-jira"\} (\S+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_a_heal_the_tool_cannot_take_is_reported_unhealable_once(
    env: tuple[Stack, Tools], tools: Tools
) -> None:
    stack, _ = env
    iid, issue, _, _ = declare(tools, "Payments degraded")
    tools.edit_incident(iid, priority="P5")  # a priority this Jira project has no name for
    wait_for(lambda: im(stack, "integration", "dlq", "prod-jira")["depth"] >= 1, 30, "the refusal")
    tools.quiesce()
    first = reconcile(stack, "prod-jira", "--auto-heal")
    assert found_for(first, iid) == [("priority", "push_platform")]
    wait_for(lambda: im(stack, "integration", "dlq", "prod-jira")["depth"] >= 2, 30, "the heal")
    tools.quiesce()
    before = unhealable_count(stack)
    second = reconcile(stack, "prod-jira", "--auto-heal")
    assert found_for(second, iid) == [("priority", "unhealable")]
    (entry,) = [d for d in second["discrepancies"] if d["platform_incident_id"] == iid]
    assert first["id"] in entry["reason"] and "not sent again" in entry["reason"]
    assert second["fixes"] == 0
    third = reconcile(stack, "prod-jira", "--auto-heal")
    assert found_for(third, iid) == [("priority", "unhealable")]
    time.sleep(1.0)
    assert im(stack, "integration", "dlq", "prod-jira")["depth"] == 2  # nothing sent again
    assert unhealable_count(stack) == before + 1  # counted once
    # The table shows why.
    shown = im(stack, "integration", "reconcile", "show", "prod-jira", third["id"])
    assert any(d["heal"] == "unhealable" and d["reason"] for d in shown["discrepancies"])
    # A value the tool can take makes it healable again, and the pipeline syncs it.
    tools.edit_incident(iid, priority="P2")
    wait_for(lambda: tools.jira_issue(issue)["priority"] == "High", 30, "P2")
    tools.quiesce()
    assert found_for(reconcile(stack, "prod-jira", "--auto-heal"), iid) == []
