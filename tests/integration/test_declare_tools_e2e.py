"""Declare from Jira, PagerDuty and Datadog: each integration's declare rule makes its tool's
unlinked record declare one platform incident, linked to it; then the pair syncs. An
integration without a rule (`prod-snow` here) declares nothing.

The real parts: broker, redis-server, the incident.io, ServiceNow, Jira, PagerDuty and Datadog
sandboxes over HTTP, the pipeline and the reconciler (polling every 3 s) as child processes.
Every integration's trigger matches no platform incident, so the pipeline makes no tool record
of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncstate import keys
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}
RULES = {
    "prod-jira": {"when": {"all": [{"field": "priority", "equals": "P1"}]}},
    "prod-pd": {"when": {"all": [{"field": "priority", "in": ["P1", "P2"]}]}},
    "prod-dd": {"when": {"all": [{"field": "severity", "in": ["critical", "major"]}]}},
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    overrides: dict[str, dict[str, Any]] = {"prod-snow": {"trigger": NEVER}}
    overrides |= {side: {"trigger": NEVER, "declare": rule} for side, rule in RULES.items()}
    # PagerDuty's default ownership gives the platform the title: none here, so the
    # responder's title names the incident.
    overrides["prod-pd"]["ownership"] = {}
    yield from start_stack(
        tools=("jira", "pagerduty", "datadog"),
        overrides=overrides,
        # Datadog's webhook names only an incident incident-sync tagged: an incident declared
        # in Datadog reaches the pipeline by the polling fallback.
        extra_env={"RECONCILE_POLL_INTERVAL_S": "3", "RECONCILE_POLL_OVERLAP_S": "2"},
        sync_severity=True,
    )


def db(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url)


def linked_incident(stack: Stack, integration: str, external_id: str) -> str | None:
    value: Any = db(stack).get(keys.link("default", integration, external_id))
    return value.decode() if value is not None else None


def incidents(tools: Tools) -> int:
    return int(tools.io_stats()["incidents"])


def declared(stack: Stack, tools: Tools, integration: str, external_id: str) -> str:
    pid = wait_for(
        lambda: linked_incident(stack, integration, external_id), what="the declared incident"
    )
    tools.quiesce()
    return pid


def test_a_highest_priority_jira_issue_declares_one_incident_and_syncs(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    issue = tools.create_jira(summary=f"Checkout 500s {tag}", priority="Highest")
    pid = declared(stack, tools, "prod-jira", str(issue["id"]))
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Checkout 500s {tag}"
    tools.edit_jira(str(issue["id"]), summary=f"Checkout 500s in eu {tag}")
    wait_for(
        lambda: tools.incident(pid)["name"] == f"Checkout 500s in eu {tag}" or None,
        what="the issue's edit on the incident",
    )
    tools.quiesce()
    assert incidents(tools) == before + 1


def test_a_p1_pagerduty_incident_declares_one_incident_and_syncs(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    made = tools.create_pd(title=f"API latency {tag}", priority="P1")
    pid = declared(stack, tools, "prod-pd", str(made["id"]))
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"API latency {tag}"
    tools.edit_pd(str(made["id"]), title=f"API latency high {tag}")
    wait_for(
        lambda: tools.incident(pid)["name"] == f"API latency high {tag}" or None,
        what="the PagerDuty edit on the incident",
    )
    tools.quiesce()
    assert incidents(tools) == before + 1


def test_a_sev_1_datadog_incident_declares_one_incident_and_syncs(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    made = tools.create_dd(f"Error budget burn {tag}")
    poll(stack, "prod-dd")
    tools.quiesce()
    assert linked_incident(stack, "prod-dd", str(made["id"])) is None  # no severity yet
    assert incidents(tools) == before
    tools.edit_dd(str(made["id"]), severity="SEV-1")
    pid = declared(stack, tools, "prod-dd", str(made["id"]))
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Error budget burn {tag}"
    tools.edit_dd(str(made["id"]), title=f"Error budget burn fast {tag}")
    wait_for(
        lambda: tools.incident(pid)["name"] == f"Error budget burn fast {tag}" or None,
        what="the Datadog edit on the incident",
    )
    tools.quiesce()
    assert incidents(tools) == before + 1


def poll(stack: Stack, side: str) -> None:
    """Wait for two more complete polls of the side by the reconciler."""
    key = keys.reconcile_watermark("default", side)
    for _ in range(2):
        mark = db(stack).get(key)
        wait_for(lambda: db(stack).get(key) not in (None, mark) or None, 30, "a poll")  # noqa: B023


def test_an_integration_without_a_rule_declares_nothing(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    record = tools.create_snow(short_description=f"Payments down {tag}", impact="1", urgency="1")
    poll(stack, "prod-snow")
    tools.quiesce()
    assert linked_incident(stack, "prod-snow", record["sys_id"]) is None
    assert incidents(tools) == before
