"""An echo storm on the real stack: every sandbox sends every webhook twice, each copy a
distinct delivery (new id, signed again) after its own random delay, so echoes of our writes
(and people's changes) arrive late, duplicated and out of order. A run of real changes on
every side, each followed only until it has reached its targets (so storms of earlier echoes
overlap later changes), must leave every side converged with exactly one write per real
change and target: zero extra writes, no duplicated comment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration
NO_RULES: dict[str, Any] = {"ownership": {}}
STORMY = ("incidentio", "servicenow", "jira", "pagerduty")


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        tools=("jira", "pagerduty", "slack"),
        overrides={"prod-jira": NO_RULES, "prod-pd": NO_RULES},
    )


@pytest.fixture
def tools(env: tuple[Stack, Tools]) -> Tools:
    return env[1]


def slack_message(tools: Tools, iid: str) -> dict[str, Any]:
    for message in tools.slack_messages():
        payload = (message.get("metadata") or {}).get("event_payload", {})
        if payload.get("platform_incident_id") == iid:
            return message
    return {}


def test_an_echo_storm_makes_no_extra_writes(tools: Tools) -> None:
    for n, tool in enumerate(STORMY):
        tools.webhook_storm(tool, copies=2, min_delay_s=0.1, max_delay_s=1.5, seed=n)
    try:
        run_the_storm(tools)
    finally:
        for tool in STORMY:
            tools.webhook_storm(tool)


def run_the_storm(tools: Tools) -> None:
    iid = tools.declare("Storm", "Storm: summary")["id"]
    issue = wait_for(lambda: tools.jira_issues_for(iid), 30, "the Jira issue")[0]["id"]
    pd = wait_for(lambda: tools.pd_incidents_for(iid), 30, "the PD incident")[0]["id"]
    sys_id = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")[0]["sys_id"]
    message = wait_for(lambda: slack_message(tools, iid), 30, "the Slack message")
    slack = f"{message['channel']}:{message['ts']}"

    # 1. the platform renames: Jira, PagerDuty, ServiceNow, Slack
    tools.edit_incident(iid, name="Storm over eu-west")
    wait_for(lambda: tools.jira_issue(issue)["summary"] == "Storm over eu-west", 30, "Jira")
    wait_for(lambda: tools.pd_incident(pd)["title"] == "Storm over eu-west", 30, "PD")
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == "Storm over eu-west", 30)
    # 2. a Jira comment: PagerDuty note, platform note, work note, Slack reply
    first = tools.comment_jira(issue, "Failing over to eu-central")
    wait_for(lambda: tools.pd_incident(pd)["notes"], 30, "the PD note")
    wait_for(lambda: slack_message(tools, iid).get("replies"), 30, "the Slack reply")
    # 3. a PagerDuty note: Jira comment, platform note, work note, Slack reply
    tools.note_pd(pd, "DB team paged")
    wait_for(lambda: len(tools.jira_issue(issue)["comments"]) == 2, 30, "the Jira copy")
    # 4. ServiceNow renames: platform, Jira, PagerDuty, Slack
    tools.edit_snow(sys_id, short_description="Storm over eu-west and eu-central")
    wait_for(lambda: tools.pd_incident(pd)["title"] == "Storm over eu-west and eu-central", 30)
    # 5. Jira priority: platform, PagerDuty, Slack
    tools.edit_jira(issue, priority="Highest")
    wait_for(lambda: tools.pd_incident(pd)["priority_name"] == "P1", 30, "PD priority")
    # 6. the Jira comment edited: the Slack reply follows (PagerDuty notes cannot change)
    tools.edit_jira_comment(issue, first, "Failed over to eu-central")
    wait_for(
        lambda: slack_message(tools, iid)["replies"][0] == "Failed over to eu-central", 30, "edit"
    )
    # 7. PagerDuty resolves: platform closed, Jira done, Slack (ServiceNow takes no status)
    tools.edit_pd(pd, status="resolved")
    wait_for(lambda: tools.jira_issue(issue)["status"] == "Done", 30, "Jira done")
    wait_for(lambda: tools.incident(iid)["incident_status"]["category"] == "closed", 30)
    tools.quiesce(timeout_s=60, settle_s=3.0)  # every late copy delivered, nothing moves

    incident = tools.incident(iid)
    assert incident["name"] == "Storm over eu-west and eu-central"
    assert tools.jira_issue(issue)["summary"] == "Storm over eu-west and eu-central"
    assert tools.snow_record(sys_id)["short_description"] == "Storm over eu-west and eu-central"
    assert [c["body"] for c in tools.jira_issue(issue)["comments"]] == [
        "Failed over to eu-central",
        "DB team paged",
    ]
    assert [n["content"] for n in tools.pd_incident(pd)["notes"]] == [
        "Failing over to eu-central",
        "DB team paged",
    ]
    final = slack_message(tools, iid)
    assert final["replies"] == ["Failed over to eu-central", "DB team paged"]
    assert final["text"].startswith("[CLOSED] Storm over eu-west and eu-central")
    journal = tools.snow_record(sys_id)["work_notes_entries"]
    assert [e["value"] for e in journal] == ["Failing over to eu-central", "DB team paged"]

    writes = {
        "incidentio": tools.api_writes("incidentio", iid),
        "jira": tools.api_writes("jira", issue),
        "pagerduty": tools.api_writes("pagerduty", pd),
        "servicenow": tools.api_writes("servicenow", sys_id),
        "slack": tools.api_writes("slack", slack),
    }
    assert writes == {
        # 2 notes, the ServiceNow rename, the Jira priority, the PagerDuty resolve
        "incidentio": 5,
        # create, rename, the PD note's copy, the ServiceNow rename, the resolve (transition)
        "jira": 5,
        # create, rename, the Jira comment's copy, the ServiceNow rename, the priority
        "pagerduty": 5,
        # create, rename, 2 work notes (ServiceNow takes no priority and no status here)
        "servicenow": 4,
        # post, rename, 2 replies, the ServiceNow rename, priority, the reply's edit, closed
        "slack": 8,
    }
    for tool in STORMY:  # the storm did blow: every webhook went twice
        stats = tools.stats(tool)
        assert stats["webhook_storm"]["copies"] == 2, tool
        assert stats["webhooks_sent"] > 0 and stats["webhooks_sent"] % 2 == 0, (tool, stats)
