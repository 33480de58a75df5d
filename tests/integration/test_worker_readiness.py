"""A worker beyond the partition count: on the real stack (broker, redis-server, sandboxes,
services as child processes) with three workers in one consumer group and one partition per
pipeline topic, so at least two of them hold nothing.

Readiness means "joined the group, able to process what it is assigned": a spare worker is
ready (else the PodDisruptionBudget would count it unavailable and block node drains), and
what it holds is its own signal (the /ready body, `incident_sync_worker_assigned_partitions`).
When the worker holding the partitions leaves, a spare takes them and the pipeline goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel import topics
from tests import leakcheck
from tests.deploy.chart import of_kind, render

pytestmark = pytest.mark.integration

PIPELINE = {topics.OBSERVATIONS, topics.LINKED, topics.COMMANDS}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    stack = Stack(workers=3, extra_env={"KAFKA_TOPIC_PARTITIONS": "1"})
    leakcheck.watch(stack.secret_values(), "the readiness stack")
    stack.start()  # waits for every worker's /ready: a spare that is never ready fails here
    tools = Tools(stack)
    try:
        yield stack, tools
    finally:
        tools.close()
        stack.stop()


def held(stack: Stack, names: list[str]) -> dict[str, dict[str, int]] | None:
    """Per worker, what it holds, once the group holds every partition exactly once."""
    with httpx.Client(timeout=5) as client:
        answers = {name: client.get(f"{stack.url(name)}/ready") for name in names}
    if any(a.status_code != 200 for a in answers.values()):
        return None
    out = {name: a.json()["topics"] for name, a in answers.items()}
    for topic in PIPELINE:
        if sum(t[topic] for t in out.values()) != 1:  # mid-rebalance
            return None
    return out


def gauge(stack: Stack, name: str) -> dict[str, float]:
    text = httpx.get(f"{stack.url(name)}/metrics", timeout=5).text
    return {
        s.labels["topic"]: s.value
        for fam in text_string_to_metric_families(text)
        if fam.name == "incident_sync_worker_assigned_partitions"
        for s in fam.samples
    }


def test_a_spare_worker_is_ready_and_says_it_holds_nothing(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    assert stack.partitions == 1
    by_worker = wait_for(lambda: held(stack, stack.worker_names), 60, "a settled group")
    owners = [n for n, t in by_worker.items() if sum(t.values())]
    spares = [n for n, t in by_worker.items() if not sum(t.values())]
    assert len(owners) == 1 and len(spares) == 2, by_worker  # copartitioned: one owner
    (owner,) = owners
    assert by_worker[owner] == dict.fromkeys(PIPELINE, 1)
    for spare in spares:
        answer = httpx.get(f"{stack.url(spare)}/ready", timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "status": "ready",
            "checks": {"redis": "ok", "group": "ok"},
            "partitions": 0,
            "topics": dict.fromkeys(PIPELINE, 0),
        }
        assert gauge(stack, spare) == dict.fromkeys(PIPELINE, 0.0)
    assert gauge(stack, owner) == dict.fromkeys(PIPELINE, 1.0)


def test_the_charts_helm_test_passes_on_each_real_service_and_a_spare_worker(
    env: tuple[Stack, Tools],
) -> None:
    """The chart's `helm test` script (as rendered) against the running services' /ready,
    every worker included (two of them spares)."""
    stack, _ = env
    pods = {
        p["metadata"]["labels"]["incident-sync.io/tests"]: p["spec"]["containers"][0]
        for p in of_kind(render(), "Pod")
    }
    targets = {name: name for name in ("ingress", "control", "reconciler")}
    targets.update({worker: "outbound" for worker in stack.worker_names})
    for service, component in targets.items():
        c = pods[component]
        env_vars = {e["name"]: e["value"] for e in c["env"]}
        done = subprocess.run(  # noqa: S603 - the chart's own script
            [sys.executable, *c["command"][1:]],
            env={**os.environ, **env_vars, "READY_URL": f"{stack.url(service)}/ready"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (service, done.stderr)
        assert " 200 " in done.stdout, done.stdout


def test_every_service_serves_the_probes_of_the_service_base(env: tuple[Stack, Tools]) -> None:
    """The worker, the ingress, the control API and the reconciler: /metrics is
    prometheus_client's exposition (OpenMetrics to a scraper that asks for it, gzip when
    accepted), an unknown path a JSON 404, /health the same body."""
    stack, _ = env
    openmetrics = "application/openmetrics-text; version=1.0.0"
    for name in [*stack.worker_names, "ingress", "control", "reconciler"]:
        url = stack.url(name)
        health = httpx.get(f"{url}/health", timeout=5)
        assert (health.status_code, health.json()) == (200, {"status": "ok"}), name
        headers = {"Accept": openmetrics, "Accept-Encoding": "gzip"}
        if name == "control":  # /metrics asks the policy for metrics.read
            headers["Authorization"] = f"Bearer {stack.admin_token}"
        metrics = httpx.get(f"{url}/metrics", headers=headers, timeout=5)
        assert metrics.status_code == 200, (name, metrics.text)
        assert metrics.headers["Content-Type"].startswith(openmetrics), name
        assert metrics.headers["Content-Encoding"] == "gzip", name
        assert metrics.text.endswith("# EOF\n"), name
        missing = httpx.get(f"{url}/nowhere", timeout=5)
        assert missing.status_code == 404, name
        assert missing.json()["error"] == "not_found", name


def test_a_spare_takes_over_when_the_owner_leaves(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    by_worker = wait_for(lambda: held(stack, stack.worker_names), 60, "a settled group")
    (owner,) = [n for n, t in by_worker.items() if sum(t.values())]
    stack.child(owner).stop()  # a drain: SIGTERM, the worker leaves the group
    rest = [n for n in stack.worker_names if n != owner]
    after = wait_for(lambda: held(stack, rest), 90, "the spares' rebalance")
    (new_owner,) = [n for n, t in after.items() if sum(t.values())]
    assert new_owner != owner
    assert gauge(stack, new_owner) == dict.fromkeys(PIPELINE, 1.0)
    # ... and it processes: a declared incident gets its ServiceNow ticket.
    incident = tools.declare("Spare worker on duty", "the owner was drained")
    (ticket,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 60, "the ticket")
    assert ticket["short_description"] == "Spare worker on duty"
