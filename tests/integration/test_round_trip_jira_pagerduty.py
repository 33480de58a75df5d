"""incident.io <-> Jira <-> PagerDuty (and Datadog, and the Slack notifier) end to end: real
broker, real redis-server, the sandboxes over HTTP sending signed webhooks (echoes of our own
writes included), the ingress and the worker as child processes. Ownership rules are switched
off here (`"ownership": {}`) so these tests exercise routing, mapping and echo suppression
only; the per-type defaults are tested with the ownership work."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration
NO_RULES: dict[str, Any] = {"ownership": {}}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        tools=("jira", "pagerduty", "datadog", "slack"),
        overrides={"prod-jira": NO_RULES, "prod-pd": NO_RULES, "prod-dd": NO_RULES},
        sync_status=True,
    )


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Tools:
    return env[1]


def declare(tools: Tools, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An incident.io incident and the Jira issue and PagerDuty incident made for it."""
    incident = tools.declare(name, f"{name}: summary")
    iid = incident["id"]
    issues = wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")
    pds = wait_for(lambda: tools.pd_incidents_for(iid), 30, "the PagerDuty incident")
    tools.quiesce()
    return iid, issues[0], pds[0]


def priority_of(incident: dict[str, Any]) -> str | None:
    for entry in incident["custom_field_entries"]:
        if entry["custom_field"]["name"] == "Priority" and entry["values"]:
            return str(entry["values"][0]["value_option"]["value"])
    return None


def writes(tools: Tools, iid: str, issue: dict[str, Any], pd: dict[str, Any]) -> tuple[int, ...]:
    return (
        tools.api_writes("incidentio", iid),
        tools.api_writes("jira", issue["id"]),
        tools.api_writes("pagerduty", pd["id"]),
    )


def test_a_declared_incident_makes_one_linked_record_in_each_tool(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Payments down")
    assert issue["summary"] == "Payments down"
    assert issue["description"] == "Payments down: summary"
    assert issue["status_category"] == "new"
    assert pd["title"] == "Payments down" and pd["status"] == "triggered"
    assert len(tools.jira_issues_for(iid)) == 1 and len(tools.pd_incidents_for(iid)) == 1
    # one create each; the echoes of both creates wrote nothing anywhere
    assert writes(tools, iid, issue, pd) == (0, 1, 1)


def test_resolving_in_pagerduty_closes_the_incident_and_transitions_jira(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Disk full on db-3")
    tools.edit_pd(pd["id"], status="resolved")
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "closed", 30, "close")
    wait_for(lambda: tools.jira_issue(issue["id"])["status"] == "Done", 30, "the transition")
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (1, 2, 1)  # io edit, Jira create + transition


def test_closing_on_the_platform_resolves_both_and_reopening_in_jira_reopens(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Queue stuck")
    tools.edit_incident(iid, status="Closed")
    wait_for(lambda: tools.pd_incident(pd["id"])["status"] == "resolved", 30, "PD resolved")
    wait_for(lambda: tools.jira_issue(issue["id"])["status"] == "Done", 30, "Jira done")
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (0, 2, 2)
    tools.edit_jira(issue["id"], status="To Do")
    wait_for(lambda: tools.pd_incident(pd["id"])["status"] == "triggered", 30, "PD reopened")
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "live", 30, "reopen")
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (1, 2, 3)


def test_priority_and_assignee_from_jira_reach_pagerduty(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Search slow")
    tools.edit_jira(issue["id"], priority="Highest", assignee="bob@example.com")
    wait_for(lambda: tools.pd_incident(pd["id"])["priority_name"] == "P1", 30, "PD priority")
    wait_for(
        lambda: tools.pd_incident(pd["id"])["assignee_emails"] == ["bob@example.com"],
        30,
        "PD assignee",
    )
    wait_for(lambda: tools.incident(iid)["incident_role_assignments"][0].get("assignee"), 30)
    tools.quiesce()
    incident = tools.incident(iid)
    assert incident["incident_role_assignments"][0]["assignee"]["email"] == "bob@example.com"
    assert priority_of(incident) == "P1"
    # the one Jira edit: one platform edit, one PD update, both carrying both fields
    assert writes(tools, iid, issue, pd) == (1, 1, 2)


def test_priority_and_reassignment_in_pagerduty_reach_jira(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Login errors")
    tools.edit_pd(pd["id"], priority="P2")
    wait_for(lambda: tools.jira_issue(issue["id"])["priority"] == "High", 30, "Jira priority")
    tools.edit_pd(pd["id"], assignee="alice@example.com")
    wait_for(
        lambda: tools.jira_issue(issue["id"])["assignee"] == "alice@example.com", 30, "assignee"
    )
    tools.quiesce()
    assert priority_of(tools.incident(iid)) == "P2"
    assert writes(tools, iid, issue, pd) == (2, 3, 1)


def test_comments_travel_both_ways_without_copies(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Cache stampede")
    tools.comment_jira(issue["id"], "Rolled back to v41")
    wait_for(lambda: tools.pd_incident(pd["id"])["notes"], 30, "the PD note")
    tools.note_pd(pd["id"], "Paging the DB team")
    wait_for(lambda: len(tools.jira_issue(issue["id"])["comments"]) == 2, 30, "the Jira comment")
    tools.quiesce()
    assert [c["body"] for c in tools.jira_issue(issue["id"])["comments"]] == [
        "Rolled back to v41",
        "Paging the DB team",
    ]
    assert [n["content"] for n in tools.pd_incident(pd["id"])["notes"]] == [
        "Rolled back to v41",
        "Paging the DB team",
    ]
    # each comment reached the platform's notes field once
    assert writes(tools, iid, issue, pd) == (2, 2, 2)


def test_a_platform_update_becomes_a_jira_comment_and_a_pagerduty_note(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Backlog growing")
    tools.edit_incident(iid, update_message="Scaled consumers to 12")
    wait_for(lambda: tools.jira_issue(issue["id"])["comments"], 30, "the Jira comment")
    wait_for(lambda: tools.pd_incident(pd["id"])["notes"], 30, "the PD note")
    tools.quiesce()
    assert [c["body"] for c in tools.jira_issue(issue["id"])["comments"]] == [
        "Scaled consumers to 12"
    ]
    assert writes(tools, iid, issue, pd) == (0, 2, 2)


def slack_message(tools: Tools, iid: str) -> dict[str, Any] | None:
    found = [
        m
        for m in tools.slack_messages()
        if (m.get("metadata") or {}).get("event_payload", {}).get("platform_incident_id") == iid
    ]
    assert len(found) <= 1, "one Slack message per incident"
    return found[0] if found else None


def test_slack_shows_one_message_kept_current_with_a_reply_per_comment(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Orders delayed")
    message = wait_for(lambda: slack_message(tools, iid), 30, "the Slack message")
    assert message["text"] == "[OPEN] Orders delayed"
    channel_ts = f"{message['channel']}:{message['ts']}"
    tools.edit_pd(pd["id"], status="resolved")
    wait_for(lambda: (slack_message(tools, iid) or {}).get("text") == "[CLOSED] Orders delayed", 30)
    tools.comment_jira(issue["id"], "Root cause: expired certificate")
    wait_for(lambda: (slack_message(tools, iid) or {}).get("replies"), 30, "the thread reply")
    tools.quiesce()
    final = slack_message(tools, iid)
    assert final is not None and final["replies"] == ["Root cause: expired certificate"]
    assert tools.api_writes("slack", channel_ts) == 3  # post, update, reply


def test_resolving_in_datadog_reaches_the_platform_jira_and_pagerduty(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Error budget burn")
    incidents = wait_for(lambda: tools.dd_incidents_for(iid), 30, "the Datadog incident")
    dd_id = incidents[0]["id"]
    tools.quiesce()
    tools.edit_dd(dd_id, state="resolved")
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "closed", 30, "close")
    wait_for(lambda: tools.jira_issue(issue["id"])["status"] == "Done", 30, "Jira done")
    wait_for(lambda: tools.pd_incident(pd["id"])["status"] == "resolved", 30, "PD resolved")
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (1, 2, 2)
    assert tools.api_writes("datadog", dd_id) == 2  # the create and its ref field only


def test_priority_and_lead_set_on_the_platform_reach_jira_and_pagerduty(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Payments latency")
    tools.edit_incident(iid, priority="P1", lead="carol@example.com")
    wait_for(lambda: tools.jira_issue(issue["id"])["priority"] == "Highest", 30, "Jira priority")
    wait_for(lambda: tools.jira_issue(issue["id"])["assignee"] == "carol@example.com", 30)
    wait_for(lambda: tools.pd_incident(pd["id"])["priority_name"] == "P1", 30, "PD priority")
    tools.quiesce()
    assert tools.pd_incident(pd["id"])["assignee_emails"] == ["carol@example.com"]
    # the platform's one edit: one Jira edit (both fields), one PD update (both fields)
    assert writes(tools, iid, issue, pd) == (0, 2, 2)


def test_manual_sync_of_one_jira_issue_repairs_a_missed_webhook(tools: Tools) -> None:
    iid, issue, pd = declare(tools, "Manual Jira sync")
    tools.drop_webhooks("jira", 1.0)  # an edit the service never hears about
    try:
        tools.edit_jira(issue["id"], summary="Renamed while nobody listened")
        tools.quiesce()
    finally:
        tools.drop_webhooks("jira", 0.0)
    assert tools.incident(iid)["name"] == "Manual Jira sync"
    response = tools.ingress.post(
        f"/sync/prod-jira/{issue['id']}", json={"updated_fields": ["title"]}
    )
    assert response.status_code == 202, response.text
    wait_for(lambda: tools.incident(iid)["name"] == "Renamed while nobody listened", 30, "rename")
    wait_for(lambda: tools.pd_incident(pd["id"])["title"] == "Renamed while nobody listened", 30)
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (1, 1, 2)
    assert tools.ingress.post("/sync/prod-nope/1").status_code == 404


def test_the_same_jira_delivery_three_times_writes_once(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, issue, pd = declare(tools, "Jira redelivery")
    view = tools.jira_issue(issue["id"])
    body = orjson.dumps(
        {
            "timestamp": 1_900_000_000_000,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_updated",
            "user": {"accountId": "5b10a2844c2016570human", "displayName": "Alice"},
            "issue": {
                "id": issue["id"],
                "key": view["key"],
                "fields": {
                    "summary": "Jira redelivery (renamed)",
                    "labels": view["labels"],
                    "updated": "2030-01-01T00:00:00.000+0000",
                },
            },
            "changelog": {
                "id": "1",
                "items": [
                    {
                        "field": "summary",
                        "fieldtype": "jira",
                        "fromString": "Jira redelivery",
                        "toString": "Jira redelivery (renamed)",
                    }
                ],
            },
        }
    )
    signature = hmac.new(stack.jira_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={signature}",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
    }
    for _ in range(3):
        response = tools.ingress.post("/webhooks/prod-jira", content=body, headers=headers)
        assert response.status_code == 202, response.text
    forged = {**headers, "X-Hub-Signature": "sha256=" + "0" * 64}
    assert (
        tools.ingress.post("/webhooks/prod-jira", content=body, headers=forged).status_code == 401
    )
    wait_for(lambda: tools.incident(iid)["name"] == "Jira redelivery (renamed)", 30, "rename")
    tools.quiesce()
    assert writes(tools, iid, issue, pd) == (1, 1, 2)
