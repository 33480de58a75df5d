"""An incident's timeline end to end: real broker, redis-server, the sandboxes over HTTP, the
pipeline, the control service and the reconciler; every timeline is read with the real
`im incident timeline`, by the platform id, by the ServiceNow record's sys_id and by its
number (INC00...).

Each decision the pipeline makes shows up as an entry: received, created and linked (with the
ServiceNow id and status), written (id, HTTP status, duration), dropped as the echo of our
write, skipped for ownership, a conflict parked and resolved by the operator, dead-lettered,
healed by the reconciler, quarantined."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand
from tests.integration.conftest import im, run_im, start_stack
from tests.integration.test_quarantine import TOO_LONG, produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def linked(tools: Tools, name: str) -> tuple[str, dict[str, Any]]:
    incident = tools.declare(name, f"{name} summary")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]


def timeline(stack: Stack, ref: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = im(stack, "incident", "timeline", ref)["entries"]
    return entries


def having(
    stack: Stack, ref: str, match: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first entry of `ref`'s timeline that matches, waited for."""

    def found() -> dict[str, Any] | None:
        return next((e for e in timeline(stack, ref) if match(e)), None)

    entry: dict[str, Any] = wait_for(found, 30, what)
    return entry


def table(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `im` as people run it: the table."""
    return subprocess.run(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).parent / "im"), *args],
        env={
            **os.environ,
            "IM_API_URL": stack.url("control"),
            "IM_TOKEN": stack.admin_token,
            "COLUMNS": "250",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def configure(stack: Stack, *args: str) -> None:
    im(stack, "integration", *args)
    time.sleep(1.5)  # the pipeline reloads its config every 0.5 s


def test_a_linked_incident_shows_received_created_linked_written_and_the_echo_dropped(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, record = linked(tools, "Timeline one")
    sys_id, number = record["sys_id"], record["number"]
    tools.edit_incident(iid, name="Timeline one renamed")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Timeline one renamed", 30, "w"
    )
    tools.quiesce()
    entries = timeline(stack, iid)
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "received" and kinds.index("planned") < kinds.index("created")

    received = entries[0]
    assert received["sides"] == ["incidentio"] and received["detail"]["delivery"]
    created = next(e for e in entries if e["kind"] == "created")
    assert created["sides"] == ["prod-snow"] and created["detail"]["record"] == sys_id
    assert created["detail"]["status"] == 201 and created["detail"]["duration_ms"] > 0
    link = next(e for e in entries if e["kind"] == "linked")
    assert link["sides"] == ["prod-snow"] and link["detail"]["record"] == sys_id
    written = next(e for e in entries if e["kind"] == "written")
    assert written["detail"]["record"] == sys_id and written["detail"]["status"] == 200
    assert "title" in written["fields"] and written["detail"]["duration_ms"] > 0
    echo = [e for e in entries if e["kind"] == "dropped" and e["sides"] == ["prod-snow"]]
    assert echo and {e["rule"] for e in echo} <= {"echo_actor", "echo_version", "echo_or_noop"}
    assert all(e["trace_id"] is None or len(e["trace_id"]) == 32 for e in entries)
    # no value is ever recorded: the new title is nowhere in the timeline
    assert "Timeline one renamed" not in str(entries)

    # The same timeline by the record's id and by the number people know.
    assert [e["id"] for e in timeline(stack, sys_id)] == [e["id"] for e in entries]
    by_number = im(stack, "incident", "timeline", number)
    assert (by_number["incident"], by_number["resolved_by"]) == (iid, "reference")
    code, _ = run_im(stack, "incident", "timeline", "INC9999999")
    assert code == 3  # nothing known by that reference
    shown = table(stack, "incident", "timeline", number)
    assert shown.returncode == 0, shown.stderr
    assert all(word in shown.stdout for word in ("TIME", "SIDE", "KIND", "FIELD", "DETAIL"))
    assert "created" in shown.stdout and "HTTP 201" in shown.stdout and sys_id in shown.stdout


def test_a_field_the_platform_owns_is_skipped_for_ownership(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    configure(stack, "field-ownership", "set", "prod-snow", "title", "--owner", "platform")
    try:
        iid, record = linked(tools, "Timeline owned")
        tools.edit_snow(record["sys_id"], short_description="a title the platform owns")
        skip = having(
            stack,
            iid,
            lambda e: e["kind"] == "skipped" and e["rule"] == "ownership",
            "the ownership skip",
        )
        assert skip["sides"] == ["prod-snow"] and skip["fields"] == ["title"]
    finally:
        configure(stack, "field-ownership", "unset", "prod-snow", "title")


def test_a_conflict_parked_and_resolved_by_the_operator(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    configure(stack, "configure", "prod-snow", "--conflict-strategy=manual-review")
    try:
        iid, record = linked(tools, "Timeline conflict")
        tools.edit_snow(record["sys_id"], short_description="from ServiceNow")
        tools.edit_incident(iid, name="from incident.io")
        parked = having(stack, iid, lambda e: e["kind"] == "conflict_parked", "the parked field")
        assert parked["fields"] == ["title"]
        detected = next(e for e in timeline(stack, iid) if e["kind"] == "conflict_detected")
        assert detected["rule"] == "manual-review"
        assert set(detected["sides"]) == {"incidentio", "prod-snow"}
        conflict = parked["detail"]["conflict"]
        im(stack, "conflict", "resolve", conflict, "--use-external")
        resolved = having(stack, iid, lambda e: e["kind"] == "conflict_resolved", "the resolution")
        assert resolved["rule"] == "use-external" and resolved["fields"] == ["title"]
        assert resolved["detail"]["conflict"] == conflict
        assert resolved["detail"]["resolver"]  # who settled it
    finally:
        configure(stack, "configure", "prod-snow", "--conflict-strategy=last-write-wins")


def test_a_refused_write_is_dead_lettered(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, record = linked(tools, "Timeline refused")
    sys_id = record["sys_id"]
    tools.api_faults("servicenow", fail_status=400, fail_count=1, path_contains=sys_id)
    try:
        tools.edit_incident(iid, name="Timeline refused renamed")
        dead = having(stack, iid, lambda e: e["kind"] == "dead_lettered", "the DLQ entry")
    finally:
        tools.api_faults("servicenow")
    assert dead["sides"] == ["prod-snow"] and dead["detail"]["status"] == 400
    assert "injected fault" in dead["detail"]["error"] and dead["detail"]["attempt"] == 1


def test_an_edit_behind_the_back_is_healed_by_the_reconciler(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, record = linked(tools, "Timeline drift")
    sys_id = record["sys_id"]
    tools.drop_webhooks("servicenow", 1.0)
    try:
        tools.edit_snow(sys_id, short_description="renamed behind the back")
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    run = im(stack, "integration", "reconcile", "prod-snow", "--auto-heal")
    assert run["status"] == "succeeded", run
    healed = having(stack, iid, lambda e: e["kind"] == "healed", "the heal")
    assert healed["sides"] == ["prod-snow"] and healed["fields"] == ["title"]
    assert (healed["rule"], healed["detail"]["run"]) == ("mismatch", run["id"])
    assert healed["detail"]["heal"] == "take_external"
    wait_for(lambda: tools.incident(iid)["name"] == "renamed behind the back", 30, "healed")


def test_a_write_the_connector_cannot_make_is_quarantined_on_the_timeline(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, _ = linked(tools, "Timeline quarantined")
    # A write to the platform naming a record id no URL can carry: the connector cannot make
    # the request (`RequestNotSent`), so the delivery quarantines the command.
    cmd = DeliveryCommand(
        causation_id="e-long",
        platform_incident_id=iid,
        source_integration_id="prod-snow",
        target_integration_id="incidentio",
        target_external_id=TOO_LONG,
        set_fields={"title": "never written"},
    )
    produce(stack, topics.COMMANDS, codec.encode(cmd), b"default:incidentio:long")
    entry = having(stack, iid, lambda e: e["kind"] == "quarantined", "the quarantine")
    assert (entry["sides"], entry["fields"], entry["rule"]) == (
        ["incidentio"],
        ["title"],
        "RequestNotSent",
    )
    assert entry["detail"]["stage"] == "delivery"
    assert entry["detail"]["message"] == cmd.command_id
    (held,) = im(stack, "quarantine", "list", "--stage", "delivery")["items"]
    im(stack, "quarantine", "discard", held["id"], "--yes")
