"""Comments both ways by id, fan-out under ownership, deleted records, and manual sync through
the control API, end to end: real broker, redis-server, the sandboxes over HTTP (echoes of
our writes included), the pipeline and the control service as child processes, the real `im`.

Jira has no ownership rules here (comments travel both ways with it); PagerDuty keeps its
type's defaults (the platform owns title and description, PagerDuty owns the assignee and the
escalation policy), ServiceNow syncs names, summaries and work notes; Slack shows everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import run_im, start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        tools=("jira", "pagerduty", "slack"), overrides={"prod-jira": {"ownership": {}}}
    )


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Tools:
    return env[1]


@pytest.fixture
def stack(env: tuple[Stack, Tools]) -> Stack:
    return env[0]


def slack_message(tools: Tools, iid: str) -> dict[str, Any] | None:
    found = [
        m
        for m in tools.slack_messages()
        if (m.get("metadata") or {}).get("event_payload", {}).get("platform_incident_id") == iid
    ]
    return found[0] if found else None


def slack_replies(tools: Tools, iid: str) -> list[str]:
    message = slack_message(tools, iid)
    return list(message["replies"]) if message else []


def declare(tools: Tools, name: str) -> dict[str, Any]:
    """An incident and its record in every tool: ids by tool, and the Slack message's key."""
    incident = tools.declare(name, f"{name}: summary")
    iid = incident["id"]
    issue = wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")[0]
    pd = wait_for(lambda: tools.pd_incidents_for(iid), 30, "the PagerDuty incident")[0]
    snow = wait_for(lambda: tools.snow_records_for(iid), 30, "the ServiceNow ticket")[0]
    message = wait_for(lambda: slack_message(tools, iid), 30, "the Slack message")
    tools.quiesce()
    return {
        "incidentio": iid,
        "jira": issue["id"],
        "pagerduty": pd["id"],
        "servicenow": snow["sys_id"],
        "slack": f"{message['channel']}:{message['ts']}",
    }


def writes(tools: Tools, ids: dict[str, str]) -> dict[str, int]:
    return {tool: tools.api_writes(tool, record) for tool, record in ids.items()}


def test_comments_travel_both_ways_by_id_and_edits_and_deletes_follow(tools: Tools) -> None:
    ids = declare(tools, "Cache stampede")
    iid, issue, pd = ids["incidentio"], ids["jira"], ids["pagerduty"]
    before = writes(tools, ids)

    first = tools.comment_jira(issue, "Rolled back to v41")
    wait_for(lambda: tools.pd_incident(pd)["notes"], 30, "the PD note")
    wait_for(lambda: slack_replies(tools, iid) == ["Rolled back to v41"], 30, "the Slack reply")
    wait_for(lambda: tools.platform_notes(iid) == "Rolled back to v41", 30, "the platform note")
    tools.note_pd(pd, "Paging the DB team")
    wait_for(lambda: len(tools.jira_issue(issue)["comments"]) == 2, 30, "the Jira copy")
    wait_for(lambda: len(slack_replies(tools, iid)) == 2, 30, "the second Slack reply")
    tools.quiesce()
    # an edit follows where the tool can edit (Slack); PagerDuty notes cannot be edited
    tools.edit_jira_comment(issue, first, "Rolled back to v40")
    wait_for(lambda: slack_replies(tools, iid)[0] == "Rolled back to v40", 30, "the edit")
    tools.quiesce()
    tools.delete_jira_comment(issue, first)
    wait_for(lambda: slack_replies(tools, iid) == ["Paging the DB team"], 30, "the delete")
    tools.quiesce()

    assert [c["body"] for c in tools.jira_issue(issue)["comments"]] == ["Paging the DB team"]
    assert [n["content"] for n in tools.pd_incident(pd)["notes"]] == [
        "Rolled back to v41",
        "Paging the DB team",
    ]
    assert tools.platform_notes(iid) == "Paging the DB team"
    journal = tools.snow_record(ids["servicenow"])["work_notes_entries"]
    assert [e["value"] for e in journal] == ["Rolled back to v41", "Paging the DB team"]
    delta = {t: n - before[t] for t, n in writes(tools, ids).items()}
    # Jira: the PagerDuty note's copy; PagerDuty: the Jira comment's copy; the platform and
    # ServiceNow: one note each way; Slack: two replies, one edit, one delete. No echo wrote.
    assert delta == {"incidentio": 2, "jira": 1, "pagerduty": 1, "servicenow": 2, "slack": 4}


def test_fan_out_reaches_every_linked_side_that_accepts_the_fields(tools: Tools) -> None:
    ids = declare(tools, "Search slow")
    iid, pd = ids["incidentio"], ids["pagerduty"]
    pd_assignees = tools.pd_incident(pd)["assignee_emails"]
    before = writes(tools, ids)
    tools.edit_jira(ids["jira"], summary="Search slow in eu-west", assignee="bob@example.com")
    wait_for(lambda: tools.incident(iid)["name"] == "Search slow in eu-west", 30, "platform")
    wait_for(lambda: tools.pd_incident(pd)["title"] == "Search slow in eu-west", 30, "PD title")
    wait_for(
        lambda: (
            tools.snow_record(ids["servicenow"])["short_description"] == "Search slow in eu-west"
        ),
        30,
        "ServiceNow",
    )
    wait_for(lambda: "Search slow in eu-west" in (slack_message(tools, iid) or {})["text"], 30)
    tools.quiesce()
    lead = tools.incident(iid)["incident_role_assignments"][0]["assignee"]["email"]
    assert lead == "bob@example.com"
    # PagerDuty owns its assignee (the type's default): the title reached it, the assignee not
    assert tools.pd_incident(pd)["assignee_emails"] == pd_assignees
    delta = {t: n - before[t] for t, n in writes(tools, ids).items()}
    assert delta == {"incidentio": 1, "jira": 0, "pagerduty": 1, "servicenow": 1, "slack": 1}


def test_a_deleted_jira_issue_is_unlinked_and_noted_on_the_incident(tools: Tools) -> None:
    ids = declare(tools, "Queue stuck")
    iid = ids["incidentio"]
    key = tools.jira_issue(ids["jira"])["key"]
    tools.delete_jira(ids["jira"])
    wait_for(lambda: "was deleted in prod-jira" in (tools.platform_notes(iid) or ""), 30, "note")
    tools.quiesce()
    note = tools.platform_notes(iid) or ""
    assert note.startswith(f"{key} was deleted in prod-jira (jira) by "), note
    assert "no longer syncs this incident with prod-jira" in note
    # the incident goes on syncing everywhere else, and no new Jira issue is made for it
    tools.edit_incident(iid, name="Queue stuck on orders")
    wait_for(lambda: tools.pd_incident(ids["pagerduty"])["title"] == "Queue stuck on orders", 30)
    tools.quiesce()
    assert tools.jira_issues_for(iid) == []
    # an operator's manual sync of the incident makes a new one
    assert tools.ingress.post(f"/sync/incident/{iid}").status_code == 202
    (issue,) = wait_for(lambda: tools.jira_issues_for(iid), 30, "the new Jira issue")
    assert issue["summary"] == "Queue stuck on orders"


def test_a_deleted_servicenow_ticket_is_unlinked_and_noted_on_the_incident(tools: Tools) -> None:
    ids = declare(tools, "Disk full on db-3")
    iid = ids["incidentio"]
    tools.delete_snow(ids["servicenow"])
    wait_for(lambda: "was deleted in prod-snow" in (tools.platform_notes(iid) or ""), 30, "note")
    tools.edit_incident(iid, name="Disk full on db-3 and db-4")
    wait_for(lambda: tools.pd_incident(ids["pagerduty"])["title"] == "Disk full on db-3 and db-4")
    tools.quiesce()
    assert tools.snow_records_for(iid) == []


def configure(stack: Stack, integration: str, **settings: Any) -> None:
    """Through the control API; the pipeline reloads its config every 0.5 s."""
    response = httpx.patch(
        f"{stack.url('control')}/api/v1/tenants/default/integrations/{integration}",
        json=settings,
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10.0,
    )
    assert response.status_code == 200, response.text
    time.sleep(1.5)


def test_a_reopen_only_notes_it_where_the_reopen_policy_says_comment(
    stack: Stack, tools: Tools
) -> None:
    configure(stack, "prod-pd", reopen="comment")
    try:
        ids = declare(tools, "Login errors")
        iid, pd, issue = ids["incidentio"], ids["pagerduty"], ids["jira"]
        tools.edit_incident(iid, status="Closed")
        wait_for(lambda: tools.pd_incident(pd)["status"] == "resolved", 30, "PD resolved")
        wait_for(lambda: tools.jira_issue(issue)["status"] == "Done", 30, "Jira done")
        tools.quiesce()
        tools.edit_jira(issue, status="To Do")
        wait_for(lambda: tools.incident(iid)["incident_status"]["category"] != "closed", 30)
        wait_for(lambda: tools.pd_incident(pd)["notes"], 30, "the PD note")
        tools.quiesce()
        assert tools.pd_incident(pd)["status"] == "resolved"  # stays closed: only a note
        (note,) = tools.pd_incident(pd)["notes"]
        assert "reopened" in note["content"] and "stays closed" in note["content"]
    finally:
        configure(stack, "prod-pd", reopen="reopen")


def test_a_trigger_on_a_custom_field_links_the_incident_once_it_matches(
    stack: Stack, tools: Tools
) -> None:
    team = {"all": [{"field": "custom.Affected team", "equals": "Payments"}]}
    configure(stack, "prod-snow", trigger=team)
    try:
        iid = tools.declare("Checkout errors", "5xx on /pay")["id"]
        wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")
        tools.edit_incident(iid, team="Search")
        tools.quiesce()
        assert tools.snow_records_for(iid) == []  # not (yet) an incident prod-snow syncs
        tools.edit_incident(iid, team="Payments")
        (ticket,) = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")
        assert ticket["short_description"] == "Checkout errors"
        tools.edit_incident(iid, team="Search", name="Checkout errors (EU)")  # stays linked
        wait_for(
            lambda: (
                tools.snow_record(ticket["sys_id"])["short_description"] == "Checkout errors (EU)"
            ),
            30,
            "the rename",
        )
    finally:
        configure(stack, "prod-snow", trigger=None)


def test_manual_sync_of_linked_jira_issues_through_the_control_api(
    stack: Stack, tools: Tools
) -> None:
    one, two = declare(tools, "Manual sync one"), declare(tools, "Manual sync two")
    tools.drop_webhooks("jira", 1.0)  # edits the service never hears about
    try:
        tools.edit_jira(one["jira"], summary="One, renamed in Jira")
        tools.edit_jira(two["jira"], summary="Two, renamed in Jira")
        tools.quiesce()
    finally:
        tools.drop_webhooks("jira", 0.0)

    code, answer = run_im(stack, "integration", "sync", "prod-jira", "--record", one["jira"])
    assert code == 0 and [r["record_id"] for r in answer["records"]] == [one["jira"]]
    assert answer["records"][0]["incident_id"] == one["incidentio"]
    wait_for(lambda: tools.incident(one["incidentio"])["name"] == "One, renamed in Jira", 30)
    tools.quiesce()
    assert tools.incident(two["incidentio"])["name"] == "Manual sync two"

    code, dry = run_im(stack, "integration", "sync", "prod-jira", "--dry-run")
    assert code == 0 and dry["dry_run"] is True
    listed = {r["record_id"]: r for r in dry["records"]}
    assert {one["jira"], two["jira"]} <= set(listed)
    assert all(r["event_id"] is None for r in dry["records"])
    tools.quiesce()
    assert tools.incident(two["incidentio"])["name"] == "Manual sync two"  # nothing queued

    code, answer = run_im(stack, "integration", "sync", "prod-jira")
    assert code == 0 and {r["record_id"] for r in answer["records"]} == set(listed)
    wait_for(lambda: tools.incident(two["incidentio"])["name"] == "Two, renamed in Jira", 30)
    wait_for(lambda: tools.pd_incident(two["pagerduty"])["title"] == "Two, renamed in Jira", 30)
    tools.quiesce()

    assert run_im(stack, "integration", "sync", "ops-slack")[0] == 5  # outbound-only: never read
    assert run_im(stack, "integration", "sync", "prod-jira", "--record", "999999")[0] == 3
    assert run_im(stack, "integration", "sync", "prod-nope")[0] == 3
