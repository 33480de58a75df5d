"""The polling fallback and the reconciler's lease, on the real stack.

- Both sandboxes lose 20 % of their webhooks while people edit incidents on both sides: the
  polling fallback (interval scaled down to a few seconds) brings every lost change in, and
  both sides agree again within one interval of the last edit.
- A polled record too large to publish goes to the quarantine (stage `reconciler`) and the
  pass goes on: a lost change of another record in the same pass still arrives.
- Two reconciler processes: exactly one works the integration at any moment; SIGKILL it and
  the other takes over within the lease time, and runs what is asked of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.processes import Child
from incident_sync.devstack.reconciler import reconciler
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, run_im, start_stack

pytestmark = pytest.mark.integration

POLL_S = 4.0
LEASE_S = 3.0
INCIDENTS = 10


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        extra_env={
            "RECONCILE_POLL_INTERVAL_S": str(POLL_S),
            "RECONCILE_POLL_OVERLAP_S": "2",
            "RECONCILE_LEASE_S": str(LEASE_S),
        }
    )


def test_polling_restores_what_lost_webhooks_left_behind_within_one_interval(
    env: tuple[Stack, Tools],
) -> None:
    _, tools = env
    pairs = []
    for n in range(INCIDENTS):
        incident = tools.declare(f"Polled {n}", f"summary {n}")
        iid = incident["id"]
        records = wait_for(lambda: tools.snow_records_for(iid), 30, "a ticket")  # noqa: B023
        pairs.append((iid, records[0]["sys_id"]))
    tools.quiesce()
    for tool, seed in (("incidentio", 11), ("servicenow", 12)):
        tools.drop_webhooks(tool, 0.2, seed=seed)
    try:
        for n, (iid, sys_id) in enumerate(pairs):
            tools.edit_incident(iid, name=f"Renamed in incident.io {n}")
            tools.edit_snow(sys_id, description=f"Summary from ServiceNow {n}")
        last_edit = time.monotonic()

        def converged() -> bool:
            for n, (iid, sys_id) in enumerate(pairs):
                record, incident = tools.snow_record(sys_id), tools.incident(iid)
                if record["short_description"] != f"Renamed in incident.io {n}":
                    return False
                if incident.get("summary") != f"Summary from ServiceNow {n}":
                    return False
            return True

        # One interval for the next poll of each side, and a few seconds to carry it.
        wait_for(converged, POLL_S + 8.0, "both sides to agree")
        took = time.monotonic() - last_edit
        dropped = sum(tools.stats(t)["webhooks_dropped"] for t in ("incidentio", "servicenow"))
    finally:
        for tool in ("incidentio", "servicenow"):
            tools.drop_webhooks(tool, 0.0)
    assert dropped > 0, "no webhook was lost: the test shows nothing"
    assert took <= POLL_S + 8.0


def test_a_polled_record_too_large_to_publish_is_quarantined_and_the_pass_goes_on(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    big, small = tools.declare("Big", "summary")["id"], tools.declare("Small", "summary")["id"]
    small_sys_id = wait_for(lambda: tools.snow_records_for(small), 30, "a ticket")[0]["sys_id"]
    wait_for(lambda: tools.snow_records_for(big), 30, "a ticket")
    tools.quiesce()
    tools.drop_webhooks("incidentio", 1.0)
    try:
        # Each edit fits a request; the record, both fields together, is more than the
        # producer's 1 MB.
        tools.edit_incident(big, summary="s" * 600_000)
        tools.edit_incident(big, name="n" * 600_000)
        tools.edit_incident(small, name="Small, renamed")

        def entry() -> dict[str, Any] | None:
            items = im(stack, "quarantine", "list", "--stage", "reconciler")["items"]
            return next((e for e in items if e["key_text"].endswith(f":{big}")), None)

        quarantined = wait_for(entry, POLL_S + 15, "the big record in the quarantine")
        wait_for(
            lambda: tools.snow_record(small_sys_id)["short_description"] == "Small, renamed",
            POLL_S + 15,
            "the small record's change, polled in the same pass",
        )
    finally:
        tools.drop_webhooks("incidentio", 0.0)
    assert quarantined["integration_id"] == "incidentio"
    assert quarantined["retry_topic"] == "sync.inbound" and quarantined["source_topic"] is None
    assert quarantined["error_type"] == "MessageSizeTooLargeError"
    # A retry cannot publish it either: refused, and the entry is kept.
    code, _ = run_im(stack, "quarantine", "retry", quarantined["id"])
    assert code == 5
    im(stack, "quarantine", "show", quarantined["id"])


def _status(child: Child) -> dict[str, Any]:
    assert child.port is not None
    data: dict[str, Any] = httpx.get(f"http://127.0.0.1:{child.port}/status", timeout=2).json()
    return data


def _holders(children: list[Child], side: str) -> list[str]:
    return [c.name for c in children if c.running and side in _status(c)["leases"]]


def _run(stack: Stack, timeout_s: float = 20.0) -> dict[str, Any]:
    """Ask the control API for a dry run, and wait for its outcome."""
    path = "/api/v1/tenants/default/integrations/prod-snow/reconcile"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.url("control"), timeout=5, headers=auth) as api:
        r = api.post(path, json={"mode": "dry-run"})
        r.raise_for_status()
        run_id = r.json()["id"]

        def done() -> dict[str, Any] | None:
            got: dict[str, Any] = api.get(f"{path}/runs/{run_id}").json()
            return got if got["status"] in ("succeeded", "failed") else None

        return wait_for(done, timeout_s, "the run")


def test_one_reconciler_works_an_integration_and_another_takes_over_when_it_dies(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    first = stack.child("reconciler")
    second = reconciler(stack, name="reconciler-b")
    second.log_path = stack.workdir / "reconciler-b.log"
    second.start()
    stack.children.append(second)  # stopped with the stack
    pair = [first, second]
    wait_for(lambda: second.running and _status(second)["holder"], 10, "the second replica")
    # For a few lease periods: never two holders, and the runs asked for are done by
    # the one holder.
    deadline = time.monotonic() + LEASE_S * 2
    while time.monotonic() < deadline:
        assert len(_holders(pair, "prod-snow")) == 1
        time.sleep(0.1)
    (holder,) = _holders(pair, "prod-snow")
    assert {_run(stack)["worker"] for _ in range(3)} == {holder}

    # SIGKILL the holder: the other takes over once the lease runs out.
    victim, other = (first, second) if holder == first.name else (second, first)
    victim.kill()
    killed = time.monotonic()
    wait_for(lambda: _holders([other], "prod-snow"), LEASE_S + 5, "the takeover")
    took = time.monotonic() - killed
    assert took <= LEASE_S + 2.0, f"took over after {took:.1f}s"
    assert _run(stack)["worker"] == other.name
