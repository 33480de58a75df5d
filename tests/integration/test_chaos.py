"""Chaos on the real parts: the ServiceNow sandbox failing 30 % of its API calls (500, 429
with Retry-After, timeouts) through 1,000 changes over 100 incidents; the outbound worker
SIGKILLed at random moments five times in one run; redis-server restarted mid-run. Every
change must arrive, both sides must end equal, and no ticket or note may be duplicated.

Time is scaled down (the ladder's delays, the breaker, Retry-After, the tool's timeout); the
sizes are the issue's. Each test prints what it sent, what was applied, retried, duplicated.

The ladder is longer here than the default five attempts, on purpose: with 30 % of calls
failing independently, five attempts in a row fail for 0.3^5 = 0.24 % of the writes (and a
create makes two calls: ~3 % of creates), so the default ladder would rightly dead-letter a
few of 1,100 writes; `test_delivery_ladder` shows that. Seventeen attempts make that ~1e-5 per
create, and what this run shows is that the retries themselves lose and duplicate nothing.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncstate import keys
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration

ENV = {
    "RETRY_DELAYS_S": "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1,1,1,1,1,1,1",
    "BREAKER_OPEN_S": "0.5",
    "HOLD_CHECK_S": "0.3",
    "GAUGES_S": "1",
    "KAFKA_SESSION_TIMEOUT_S": "3",  # a killed worker's partitions move on sooner
}
# The worker gives up on a ServiceNow call after 0.25 s; a "timeout" fault holds it 0.5 s.
OVERRIDES = {"prod-snow": {"timeout_s": 0.25}}
FAULTS = {
    "random_ratio": 0.3,
    "random_kinds": ["500", "500", "429", "429", "timeout"],
    "retry_after_s": 0.1,
    "timeout_s": 0.5,
    "seed": 5,
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(extra_env=ENV, overrides=OVERRIDES)


@dataclass
class Expected:
    """What each incident should show once everything arrived."""

    name: dict[str, str] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    sent: int = 0

    def declare(self, tools: Tools, name: str) -> str:
        iid = str(tools.declare(name, f"{name}: summary")["id"])
        self.name[iid], self.summary[iid], self.notes[iid] = name, f"{name}: summary", []
        return iid

    def change(self, tools: Tools, iid: str, n: int) -> None:
        kind = n % 3
        if kind == 0:
            self.name[iid] = f"{self.name[iid].split(' #')[0]} #{n}"
            tools.edit_incident(iid, name=self.name[iid])
        elif kind == 1:
            self.summary[iid] = f"summary #{n}"
            tools.edit_incident(iid, summary=self.summary[iid])
        else:
            self.notes[iid].append(f"note #{n}")
            tools.edit_incident(iid, update_message=f"note #{n}")
        self.sent += 1


@dataclass
class Report:
    converged: bool
    applied: int
    duplicated_notes: int
    missing: list[str]


def links(stack: Stack, incidents: list[str]) -> dict[str, str]:
    r = redis.Redis.from_url(stack.redis_url)
    try:
        out = {}
        for iid in incidents:
            sys_id = r.hget(keys.links("default", iid), "prod-snow")
            if isinstance(sys_id, bytes):
                out[iid] = sys_id.decode()
        return out
    finally:
        r.close()


def check(stack: Stack, tools: Tools, expected: Expected) -> Report:
    """Compare ServiceNow (read as a person would, never faulted) with what was sent."""
    linked = links(stack, list(expected.name))
    applied, dup_notes, missing = 0, 0, []
    for iid, name in expected.name.items():
        sys_id = linked.get(iid)
        if sys_id is None:
            missing.append(f"{iid}: no ticket")
            continue
        record = tools.snow_record(sys_id)
        notes = [n["value"] for n in record.get("work_notes_entries", [])]
        counts = Counter(notes)
        dup_notes += sum(c - 1 for c in counts.values())
        applied += sum(1 for n in expected.notes[iid] if counts[n])
        if record["short_description"] != name:
            missing.append(f"{iid}: title {record['short_description']!r} != {name!r}")
        if record["description"] != expected.summary[iid]:
            missing.append(f"{iid}: description {record['description']!r}")
        if set(notes) != set(expected.notes[iid]):
            missing.append(f"{iid}: notes {sorted(set(expected.notes[iid]) - set(notes))}")
    field_changes = expected.sent - sum(len(n) for n in expected.notes.values())
    if not missing:
        applied += field_changes  # every field shows its last change: all of them arrived
    return Report(not missing, applied, dup_notes, missing)


def tickets_per_incident(tools: Tools, incidents: list[str]) -> Counter[str]:
    """Every ServiceNow incident by the platform incident it carries (faults must be off)."""
    rows = tools.sn.get(
        "/api/now/table/incident",
        params={
            "sysparm_query": "u_incident_io_idISNOTEMPTY",
            "sysparm_fields": "u_incident_io_id",
        },
    )
    rows.raise_for_status()
    wanted = set(incidents)
    return Counter(
        r["u_incident_io_id"] for r in rows.json()["result"] if r["u_incident_io_id"] in wanted
    )


def converge(stack: Stack, tools: Tools, expected: Expected, timeout_s: float) -> Report:
    deadline = time.monotonic() + timeout_s
    while True:
        report = check(stack, tools, expected)
        if report.converged or time.monotonic() > deadline:
            return report
        time.sleep(1.0)


def worker_counter(stack: Stack, name: str) -> float:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name and s.labels.get("integration") == "prod-snow"
    )


def test_1000_changes_over_100_incidents_with_30_percent_of_calls_failing(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tools.api_faults("servicenow", **FAULTS)
    expected = Expected()
    incidents = [expected.declare(tools, f"Chaos {k}") for k in range(100)]
    started = time.monotonic()
    for n in range(1000):
        expected.change(tools, incidents[n % 100], n)
    report = converge(stack, tools, expected, timeout_s=240)
    took = time.monotonic() - started
    served = tools.api_requests("servicenow")
    faulted = sum(1 for r in served if r["status"] >= 400)
    tools.api_faults("servicenow")
    tickets = tickets_per_incident(tools, incidents)
    retried = worker_counter(stack, "incident_sync_delivery_retries_total")
    deferred = worker_counter(stack, "incident_sync_delivery_deferred_total")
    duplicated = sum(c - 1 for c in tickets.values()) + report.duplicated_notes
    print(
        f"\nchaos: sent {expected.sent} changes over {len(incidents)} incidents, applied "
        f"{report.applied}, retried {retried:.0f} (+{deferred:.0f} deferred), duplicated "
        f"{duplicated}; ServiceNow answered {len(served)} calls, {faulted} of them faults; "
        f"converged in {took:.1f}s"
    )
    assert report.converged, report.missing[:10]
    assert report.applied == expected.sent == 1000
    assert set(tickets) == set(incidents) and set(tickets.values()) == {1}
    assert duplicated == 0
    assert faulted >= 0.2 * len(served) and retried > 0  # the faults really were there
    dead = redis.Redis.from_url(stack.redis_url)
    assert dead.zcard(keys.dlq_at("default", "prod-snow")) == 0
    dead.close()


def kill_and_restart_worker(stack: Stack) -> None:
    worker = stack.child("outbound")
    worker.kill()  # SIGKILL: no shutdown, no commit
    worker.start()
    stack.wait_ready(90)


def test_the_worker_sigkilled_five_times_in_one_run_loses_nothing_and_creates_no_duplicate(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    expected = Expected()
    driver = Tools(stack)
    incidents: list[str] = []
    done = threading.Event()

    def run() -> None:
        try:
            for k in range(30):  # new incidents (creates) and changes, while the kills go on
                incidents.append(expected.declare(driver, f"Killed {k}"))
                for n in range(k * 10, k * 10 + 10):
                    expected.change(driver, incidents[n % len(incidents)], n)
                    time.sleep(0.01)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    rng = random.Random(7)
    for _ in range(5):
        time.sleep(rng.uniform(0.2, 2.0))
        kill_and_restart_worker(stack)
    thread.join(120)
    assert done.is_set()
    driver.close()
    report = converge(stack, tools, expected, timeout_s=120)
    tickets = tickets_per_incident(tools, incidents)
    print(
        f"\nkills: sent {expected.sent} changes and {len(incidents)} creates across 5 SIGKILLs, "
        f"applied {report.applied}, duplicated tickets {sum(c - 1 for c in tickets.values())}, "
        f"duplicated notes {report.duplicated_notes} (at-least-once: a note written just "
        f"before a kill may be written again)"
    )
    assert report.converged, report.missing[:10]
    assert set(tickets) == set(incidents) and set(tickets.values()) == {1}


def test_redis_restarted_mid_run_resumes_and_loses_nothing(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    expected = Expected()
    incidents = [expected.declare(tools, f"Redis {k}") for k in range(20)]
    wait_for(lambda: len(links(stack, incidents)) == 20, 60, "the tickets")
    driver = Tools(stack)
    done = threading.Event()

    def run() -> None:
        try:
            for n in range(200):
                expected.change(driver, incidents[n % 20], n)
                time.sleep(0.01)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    store = stack.child("redis")
    store.stop()  # SIGTERM: redis-server writes its append-only file and exits
    time.sleep(1.5)
    store.start()
    thread.join(60)
    assert done.is_set()
    driver.close()
    report = converge(stack, tools, expected, timeout_s=90)
    print(
        f"\nredis restart: sent {expected.sent}, applied {report.applied}, duplicated notes "
        f"{report.duplicated_notes}"
    )
    assert report.converged, report.missing[:10]
    assert report.applied == expected.sent
    assert report.duplicated_notes == 0  # a write is never redone for Redis' sake
