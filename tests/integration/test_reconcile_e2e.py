"""Reconciliation end to end: real broker, redis-server, the sandboxes over HTTP, the pipeline,
the control service and the reconciler; every run is asked for with the real `im`.

"Behind the service's back" means with the tool's webhooks switched off: the edit happens,
nobody is told. The reconciler's dry run must list exactly those fields, auto-heal must make
both sides agree again through the pipeline, and the history must show the runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def linked(tools: Tools, name: str) -> tuple[str, str]:
    incident = tools.declare(name, f"{name} summary")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]["sys_id"]


def behind_the_back(tools: Tools, tool: str, edit: Callable[[], object]) -> None:
    tools.drop_webhooks(tool, 1.0)
    try:
        edit()
    finally:
        tools.drop_webhooks(tool, 0.0)


def reconcile(stack: Stack, *options: str, code: int = 0) -> dict[str, Any]:
    run: dict[str, Any] = im(stack, "integration", "reconcile", "prod-snow", *options, code=code)
    assert run["status"] == "succeeded", run
    return run


def found(run: dict[str, Any]) -> set[tuple[str, str | None, str, str]]:
    return {(d["external_id"], d["field"], d["type"], d["heal"]) for d in run["discrepancies"]}


def test_dry_run_lists_exactly_the_edits_behind_the_back_and_auto_heal_fixes_them(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    a_id, a_sys = linked(tools, "Reconcile A")
    b_id, b_sys = linked(tools, "Reconcile B")
    linked(tools, "Reconcile C")  # untouched: no discrepancy
    edit_a = {"short_description": "A renamed in ServiceNow", "description": "A new summary"}
    behind_the_back(tools, "servicenow", lambda: tools.edit_snow(a_sys, **edit_a))
    behind_the_back(
        tools, "incidentio", lambda: tools.edit_incident(b_id, name="B renamed in incident.io")
    )

    dry = reconcile(stack, "--dry-run", "--fail-on-drift", code=6)
    expected = {
        (a_sys, "title", "mismatch", "take_external"),
        (a_sys, "description", "mismatch", "take_external"),
        (b_sys, "title", "mismatch", "take_platform"),
    }
    assert found(dry) == expected
    assert dry["mode"] == "dry-run" and dry["links"] >= 3 and dry["fixes"] == 0
    assert dry["requests"]["prod-snow"] >= 1 and dry["requests"]["incidentio"] >= 1
    time.sleep(1.0)  # a dry run changes nothing
    assert tools.incident(a_id)["name"] == "Reconcile A"
    assert tools.snow_record(b_sys)["short_description"] == "Reconcile B"

    healed = reconcile(stack, "--auto-heal")
    assert found(healed) == expected and healed["fixes"] == 3
    wait_for(lambda: tools.incident(a_id)["name"] == "A renamed in ServiceNow", 30, "A's name")
    assert tools.incident(a_id)["summary"] == "A new summary"
    wait_for(
        lambda: tools.snow_record(b_sys)["short_description"] == "B renamed in incident.io",
        30,
        "B's ticket",
    )
    tools.quiesce()
    after = reconcile(stack, "--dry-run", "--fail-on-drift")
    assert after["discrepancies"] == []

    history = im(stack, "integration", "reconcile", "history", "prod-snow")["items"]
    runs = {r["id"]: r for r in history}
    assert [r["id"] for r in history[:3]] == [after["id"], healed["id"], dry["id"]]
    assert [(runs[r["id"]]["mode"], r["discrepancies_found"], r["fixes"]) for r in history[:3]] == [
        ("dry-run", 0, 0),
        ("auto-heal", 3, 3),
        ("dry-run", 3, 0),
    ]
    assert all(r["duration_s"] is not None and r["trigger"] == "api" for r in history[:3])
    shown = im(stack, "integration", "reconcile", "show", "prod-snow", healed["id"])
    assert found(shown) == expected


def test_a_field_the_platform_owns_is_put_back_in_the_tool(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    im(stack, "integration", "field-ownership", "set", "prod-snow", "title", "--owner", "platform")
    try:
        time.sleep(1.5)  # the pipeline and the reconciler reload their config every 0.5 s
        iid, sys_id = linked(tools, "Owned title")
        behind_the_back(tools, "servicenow", lambda: tools.edit_snow(
            sys_id, short_description="Changed in ServiceNow"))  # fmt: skip
        dry = reconcile(stack, "--dry-run")
        assert (sys_id, "title", "mismatch", "push_platform") in found(dry)
        reconcile(stack, "--auto-heal")
        wait_for(
            lambda: tools.snow_record(sys_id)["short_description"] == "Owned title",
            30,
            "the platform's title back in ServiceNow",
        )
        tools.quiesce()
        assert tools.incident(iid)["name"] == "Owned title"
        assert not [d for d in reconcile(stack, "--dry-run")["discrepancies"]
                    if d["platform_incident_id"] == iid]  # fmt: skip
    finally:
        im(stack, "integration", "field-ownership", "unset", "prod-snow", "title")
        time.sleep(1.5)


def test_a_record_gone_from_the_tool_is_reported_then_recreated(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, sys_id = linked(tools, "Deleted behind the back")
    behind_the_back(
        tools, "servicenow", lambda: tools.sn.delete(f"/_sandbox/table/incident/{sys_id}")
    )
    dry = reconcile(stack, "--dry-run")
    assert (sys_id, None, "missing_external", "none") in found(dry)
    healed = reconcile(stack, "--auto-heal", "--on-missing", "recreate")
    assert (sys_id, None, "missing_external", "recreate") in found(healed)
    records = wait_for(lambda: tools.snow_records_for(iid), 30, "a new ticket")
    assert [r["short_description"] for r in records] == ["Deleted behind the back"]
    assert records[0]["sys_id"] != sys_id
    tools.quiesce()
    assert not [d for d in reconcile(stack, "--dry-run")["discrepancies"]
                if d["platform_incident_id"] == iid]  # fmt: skip


def test_sync_status_counts_the_discrepancies_runs_found(env: tuple[Stack, Tools]) -> None:
    """`im integration sync-status` shows drift_discrepancies: what reconcile runs found, from
    the durable counter every replica shares."""
    stack, tools = env

    def drift() -> int:
        status = im(stack, "integration", "sync-status", "prod-snow")
        return int(status["counters"]["drift_discrepancies"])

    _, sys_id = linked(tools, "Counted drift")
    behind_the_back(
        tools, "servicenow", lambda: tools.edit_snow(sys_id, short_description="Drifted")
    )
    before = drift()
    dry = reconcile(stack, "--dry-run")
    assert dry["discrepancies_found"] >= 1
    assert drift() == before + dry["discrepancies_found"]
    again = reconcile(stack, "--dry-run")  # every run counts what it finds
    assert drift() == before + dry["discrepancies_found"] + again["discrepancies_found"]


def test_a_schedule_runs_by_itself_until_it_is_disabled(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    im(stack, "integration", "reconcile", "schedule", "prod-snow", code=3)  # none set yet
    view = im(stack, "integration", "reconcile", "schedule", "prod-snow", "--interval", "1s")
    assert (view["enabled"], view["interval"], view["auto_heal"]) == (True, "1s", False)

    def scheduled() -> list[dict[str, Any]]:
        runs = im(stack, "integration", "reconcile", "history", "prod-snow")["items"]
        return [r for r in runs if r["trigger"] == "schedule" and r["status"] == "succeeded"]

    wait_for(lambda: len(scheduled()) >= 2, 30, "two scheduled runs")
    view = im(stack, "integration", "reconcile", "schedule", "prod-snow", "--disable")
    assert view["enabled"] is False and view["interval"] == "1s"
    time.sleep(1.5)
    count = len(scheduled())
    time.sleep(2.5)
    assert len(scheduled()) == count
