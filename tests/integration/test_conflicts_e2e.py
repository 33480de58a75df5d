"""Conflict strategies end to end: real broker, redis-server, the sandboxes over HTTP, the
pipeline and the control service; the strategy is switched with the real `im` between tests.

Each test edits one field on both sides at once, before either edit can travel: first
ServiceNow, then incident.io. ServiceNow's clock has whole seconds, so by the tools' own
clocks the incident.io edit is the newer one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def configure(stack: Stack, **settings: str) -> None:
    args = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    im(stack, "integration", "configure", "prod-snow", *args)
    time.sleep(1.5)  # the pipeline reloads its config every 0.5 s


def linked_ticket(tools: Tools, name: str) -> tuple[str, str]:
    incident = tools.declare(name, "summary")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]["sys_id"]


def edit_both(tools: Tools, iid: str, sys_id: str, platform: str, external: str) -> None:
    tools.edit_snow(sys_id, short_description=external)
    tools.edit_incident(iid, name=platform)


def conflicts_of(stack: Stack, iid: str, status: str | None = None) -> list[dict[str, Any]]:
    args = ["conflict", "list"] + (["--status", status] if status else [])
    return [c for c in im(stack, *args)["items"] if c["platform_incident_id"] == iid]


def test_last_write_wins_takes_the_later_edit_everywhere(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    configure(stack, conflict_strategy="last-write-wins")
    iid, sys_id = linked_ticket(tools, "LWW original")
    edit_both(tools, iid, sys_id, "LWW from incident.io", "LWW from ServiceNow")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "LWW from incident.io",
        30,
        "the winner",
    )
    tools.quiesce()
    assert tools.incident(iid)["name"] == "LWW from incident.io"
    (record,) = conflicts_of(stack, iid)
    assert (record["status"], record["resolution"], record["winner"]) == (
        "resolved",
        "last-write-wins",
        "incidentio",
    )
    assert record["platform"]["value"] == "LWW from incident.io"
    assert record["external"]["value"] == "LWW from ServiceNow"
    # a later edit made on top of the winner is no conflict
    tools.edit_snow(sys_id, short_description="LWW edited later")
    wait_for(lambda: tools.incident(iid)["name"] == "LWW edited later", 30, "the later edit")
    assert len(conflicts_of(stack, iid)) == 1


def test_manual_review_parks_the_field_until_resolved(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    configure(stack, conflict_strategy="manual-review")
    iid, sys_id = linked_ticket(tools, "MR original")
    edit_both(tools, iid, sys_id, "MR from incident.io", "MR from ServiceNow")
    (pending,) = wait_for(lambda: conflicts_of(stack, iid, "pending"), 30, "the conflict")
    tools.quiesce()
    # parked: each side keeps its own value, and a later edit does not travel either
    assert tools.incident(iid)["name"] == "MR from incident.io"
    assert tools.snow_record(sys_id)["short_description"] == "MR from ServiceNow"
    tools.edit_incident(iid, name="MR later from incident.io", summary="still syncs")
    wait_for(lambda: tools.snow_record(sys_id)["description"] == "still syncs", 30, "summary")
    tools.quiesce()
    assert tools.snow_record(sys_id)["short_description"] == "MR from ServiceNow"
    shown = im(stack, "conflict", "show", pending["id"])
    assert shown["platform"]["value"] == "MR later from incident.io"  # kept up to date

    settled = im(stack, "conflict", "resolve", pending["id"], "--use-external")
    assert (settled["status"], settled["resolution"]) == ("resolved", "use-external")
    wait_for(lambda: tools.incident(iid)["name"] == "MR from ServiceNow", 30, "the resolution")
    tools.quiesce()
    assert tools.snow_record(sys_id)["short_description"] == "MR from ServiceNow"
    assert conflicts_of(stack, iid, "pending") == []
    # unparked: the field travels again
    tools.edit_snow(sys_id, short_description="MR after the resolution")
    wait_for(lambda: tools.incident(iid)["name"] == "MR after the resolution", 30, "unparked")


def test_ownership_priority_lets_the_owner_win_even_when_older(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    # A short window: the owner's record gets no title at the create (the platform does not
    # own it), so the first edits are only compared once the create's moment has passed.
    configure(stack, conflict_strategy="ownership-priority", conflict_window="2")
    im(stack, "integration", "field-ownership", "set", "prod-snow", "title",
       "--owner", "external", "--priority", "10")  # fmt: skip
    time.sleep(1.5)
    try:
        iid, sys_id = linked_ticket(tools, "OP original")
        time.sleep(2.2)
        edit_both(tools, iid, sys_id, "OP platform's newer title", "OP owner's title")
        # the platform's edit is newer but loses: the owner's value is put back on it
        wait_for(lambda: tools.incident(iid)["name"] == "OP owner's title", 30, "the owner")
        tools.quiesce()
        assert tools.snow_record(sys_id)["short_description"] == "OP owner's title"
        (record,) = conflicts_of(stack, iid)
        assert (record["resolution"], record["winner"]) == ("ownership-priority", "prod-snow")
    finally:
        im(stack, "integration", "field-ownership", "unset", "prod-snow", "title")
        configure(stack, conflict_window="5")


def counters(stack: Stack) -> dict[str, int]:
    status: dict[str, Any] = im(stack, "integration", "sync-status", "prod-snow")
    out: dict[str, int] = status["counters"]
    return out


def resolved_metric(stack: Stack, resolution: str) -> float:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "incident_sync_conflicts_resolved_total"
        and s.labels == {"integration": "prod-snow", "resolution": resolution}
    )


def test_sync_status_and_the_metric_count_conflicts_and_the_operators_resolution_once(
    env: tuple[Stack, Tools],
) -> None:
    """`im integration sync-status --format json` shows conflicts detected and resolved (the
    durable counters in Redis), and `im conflict resolve` counts once as resolved, in the
    metric too, when the pipeline applies it."""
    stack, tools = env
    configure(stack, conflict_strategy="manual-review")
    start = counters(stack)
    assert {"conflicts_detected", "conflicts_resolved", "drift_discrepancies"} <= set(start)
    metric_before = resolved_metric(stack, "use-platform")
    iid, sys_id = linked_ticket(tools, "Counted original")
    edit_both(tools, iid, sys_id, "Counted from incident.io", "Counted from ServiceNow")
    (pending,) = wait_for(lambda: conflicts_of(stack, iid, "pending"), 30, "the conflict")
    tools.quiesce()
    parked = counters(stack)
    assert parked["conflicts_detected"] == start["conflicts_detected"] + 1
    assert parked["conflicts_resolved"] == start["conflicts_resolved"]

    im(stack, "conflict", "resolve", pending["id"], "--use-platform")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Counted from incident.io",
        30,
        "the resolution",
    )
    tools.quiesce()
    settled = counters(stack)
    assert settled["conflicts_resolved"] == start["conflicts_resolved"] + 1
    assert settled["conflicts_detected"] == parked["conflicts_detected"]
    assert resolved_metric(stack, "use-platform") == metric_before + 1
