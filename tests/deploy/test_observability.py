"""Observability of the running system: metrics and traces.

The whole stack runs (broker, redis-server, sandboxes, control, ingress, worker as child
processes, each writing its finished spans to a JSON-lines file: INCIDENT_SYNC_TRACES_DIR);
a round trip goes incident.io -> ServiceNow -> incident.io.

Metrics: /metrics of the ingress, the worker, the control API and the reconciler is scraped
(after a reconcile run that finds an edit made behind the service's back). Every metric the
PrometheusRule (rendered by helm, every feature on) or the Grafana dashboard names must be
among them, except the ones in PENDING: named in docs/architecture.md ("Metrics") for
features that are not built yet.

Traces: the spans the ingress and the worker processes exported are joined by trace id: one
webhook gives one trace, `POST /webhook` -> `send sync.inbound` -> `process sync.inbound`
(gate) -> `send sync.changes` -> `process sync.changes` (arbiter) -> `send sync.outbound` ->
`process sync.outbound` (delivery: the write to the sandbox), each span the child of the one
before, across processes and Kafka topics.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests import leakcheck
from tests.deploy.chart import (
    ALL_ON,
    alert_exprs,
    dashboard,
    dashboard_exprs,
    family,
    render,
    selectors,
)

pytestmark = pytest.mark.integration

# Named by the alerts or the dashboard, exported by no service yet. Each entry says which work
# exports it; when that lands, the entry must go (test_pending_metrics_are_not_exported_yet).
PENDING: dict[str, str] = {}
# Series Prometheus makes itself, and labels it attaches to every scraped series.
PROMETHEUS_BUILTIN = {"up"}
TARGET_LABELS = {"namespace", "service", "pod", "instance", "job", "component", "container"}
# Metrics a happy round trip must have moved (samples, not only a declared family).
FLOW = {
    "incident_sync_webhooks_received_total",
    "incident_sync_events_published_total",
    "incident_sync_ingress_publish_seconds_bucket",
    "incident_sync_gate_events_total",
    "incident_sync_commands_planned_total",
    "incident_sync_deliveries_total",
    "incident_sync_propagation_seconds_bucket",
    # the worker's writes to ServiceNow and its reads of incident.io (connectors.http)
    "incident_sync_tool_request_seconds_bucket",
    "incident_sync_control_requests_total",
    "incident_sync_drift_discrepancies_total",
    "incident_sync_reconcile_runs_total",
    "incident_sync_reconcile_last_success_timestamp_seconds",
}


@dataclass
class Exported:
    """Series names with samples, and every name a declared family can expose."""

    samples: dict[str, set[str]] = field(default_factory=dict)  # name -> label names
    declared: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        for fam in text_string_to_metric_families(text):
            suffixes = {
                "counter": ("_total", "_created"),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("_sum", "_count", "_created"),
            }.get(fam.type, ("",))
            self.declared |= {fam.name + s for s in suffixes}
            for s in fam.samples:
                self.samples.setdefault(s.name, set()).update(s.labels)

    def has(self, name: str) -> bool:
        return name in self.samples or name in self.declared


def referenced() -> dict[str, dict[str, set[str]]]:
    """Metric name -> where it is used -> the labels matched there."""
    exprs = {
        **{f"alert {k}": v for k, v in alert_exprs(render(*ALL_ON)).items()},
        **{f"dashboard {k}": v for k, v in dashboard_exprs(dashboard()).items()},
    }
    out: dict[str, dict[str, set[str]]] = {}
    for where, expr in exprs.items():
        for name, labels in selectors(expr):
            out.setdefault(name, {}).setdefault(where, set()).update(labels)
    return out


@dataclass
class Round:
    """What the round trip made: the incident, its ServiceNow record."""

    incident_id: str
    sys_id: str


@pytest.fixture(scope="module")
def traces_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="incident-sync-traces-"))


@pytest.fixture(scope="module")
def env(traces_dir: Path) -> Iterator[tuple[Stack, Tools]]:
    stack = Stack(
        features={"sync_status": True}, extra_env={"INCIDENT_SYNC_TRACES_DIR": str(traces_dir)}
    )
    leakcheck.watch(stack.secret_values(), "the observability stack")
    stack.start()
    tools = Tools(stack)
    try:
        yield stack, tools
    finally:
        tools.close()
        stack.stop()


@pytest.fixture(scope="module")
def round_trip(env: tuple[Stack, Tools]) -> Round:
    stack, tools = env
    incident = tools.declare("Checkout errors", "5xx on /pay")
    iid = incident["id"]
    records = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")
    tools.quiesce()
    tools.edit_snow(records[0]["sys_id"], short_description="Checkout errors in EU")
    wait_for(lambda: tools.incident(iid)["name"] == "Checkout errors in EU", 30, "the rename")
    tools.quiesce()
    # A reconcile run finds the edit made behind the service's back (drift, a run, its time).
    tools.drop_webhooks("servicenow", 1.0)
    tools.edit_snow(records[0]["sys_id"], description="edited behind the back")
    tools.drop_webhooks("servicenow", 0.0)
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.url("control"), headers=auth, timeout=5) as api:
        path = "/api/v1/tenants/default/integrations/prod-snow/reconcile"
        run = api.post(path, json={"mode": "dry-run"}).json()
        wait_for(
            lambda: api.get(f"{path}/runs/{run['id']}").json()["status"] == "succeeded",
            30,
            "the reconcile run",
        )
    return Round(iid, records[0]["sys_id"])


@pytest.fixture(scope="module")
def exported(env: tuple[Stack, Tools], round_trip: Round) -> Exported:
    stack, _ = env
    # The control API answers a few calls (one allowed, one refused).
    assert httpx.get(f"{stack.url('control')}/api/v1/whoami").status_code == 401
    httpx.get(
        f"{stack.url('control')}/api/v1/whoami",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    ).raise_for_status()
    out = Exported()
    for service in ("ingress", "outbound", "control", "reconciler"):
        r = httpx.get(f"{stack.url(service)}/metrics", timeout=5)
        r.raise_for_status()
        out.add(r.text)
    return out


def test_every_metric_in_alerts_and_dashboard_is_exported(exported: Exported) -> None:
    used = referenced()
    missing = {
        name: sorted(where)
        for name, where in used.items()
        if not exported.has(name) and family(name) not in PENDING and name not in PROMETHEUS_BUILTIN
    }
    assert not missing, f"named but exported by no service: {missing}"
    assert set(exported.samples) >= FLOW, sorted(FLOW - set(exported.samples))


def test_the_labels_matched_are_the_metrics_labels(exported: Exported) -> None:
    wrong = []
    for name, uses in referenced().items():
        if name not in exported.samples:
            continue
        for where, labels in uses.items():
            unknown = labels - exported.samples[name] - TARGET_LABELS
            if unknown:
                wrong.append(f"{where}: {name} has no label {sorted(unknown)}")
    assert not wrong, "\n".join(wrong)


def test_pending_metrics_are_named_and_not_exported_yet(exported: Exported) -> None:
    used = referenced()
    families = {family(n) for n in used}
    assert set(PENDING) <= families, f"pending but unused: {sorted(set(PENDING) - families)}"
    done = sorted(n for n in PENDING if any(exported.has(n + s) for s in ("", "_bucket")))
    assert not done, f"exported now, take them off PENDING: {done}"


# -- traces ------------------------------------------------------------------------------------
def spans(directory: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        out += [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return out


def test_one_webhook_gives_one_trace_from_ingress_to_the_write(
    round_trip: Round, traces_dir: Path
) -> None:
    everything = spans(traces_dir)
    by_id = {s["context"]["span_id"]: s for s in everything}
    # The create of the ServiceNow record, as the worker's delivery stage wrote it.
    (write,) = [
        s
        for s in everything
        if s["attributes"].get("sync.stage") == "delivery"
        and s["attributes"].get("sync.integration_id") == "prod-snow"
        and s["attributes"].get("sync.outcome") == "created"
        and s["attributes"].get("sync.incident_id") == round_trip.incident_id
    ]
    chain = [write]
    while chain[-1]["parent_id"] is not None:
        chain.append(by_id[chain[-1]["parent_id"]])
    assert [s["name"] for s in reversed(chain)] == [
        "POST /webhook",
        "send sync.inbound",
        "process sync.inbound",
        "send sync.changes",
        "process sync.changes",
        "send sync.outbound",
        "process sync.outbound",
    ]
    assert [s["kind"] for s in reversed(chain)] == [
        "SpanKind.SERVER",
        *["SpanKind.PRODUCER", "SpanKind.CONSUMER"] * 3,
    ]
    assert len({s["context"]["trace_id"] for s in chain}) == 1
    services = [s["resource"]["attributes"]["service.name"] for s in reversed(chain)]
    assert services == ["incident-sync-ingress"] * 2 + ["incident-sync-outbound"] * 5
    ingress, _, gate, _, arbiter, _, delivery = (s["attributes"] for s in reversed(chain))
    assert [a["sync.stage"] for a in (gate, arbiter, delivery)] == ["gate", "arbiter", "delivery"]
    assert ingress["sync.integration_id"] == "incidentio"
    assert ingress["sync.integration_type"] == "incidentio"
    assert ingress["sync.direction"] == "outbound"
    assert ingress["sync.incident_id"] == ingress["sync.external_id"] == round_trip.incident_id
    assert gate["sync.incident_id"] == round_trip.incident_id
    assert arbiter["sync.incident_id"] == round_trip.incident_id
    assert delivery == {
        **delivery,
        "sync.integration_id": "prod-snow",
        "sync.integration_type": "servicenow",
        "sync.direction": "outbound",
        "sync.incident_id": round_trip.incident_id,
        "sync.external_id": round_trip.sys_id,
    }
    # The other way too: the ServiceNow edit's trace ends in a write to incident.io.
    back = [
        s
        for s in everything
        if s["attributes"].get("sync.stage") == "delivery"
        and s["attributes"].get("sync.integration_id") == "incidentio"
        and s["attributes"].get("sync.incident_id") == round_trip.incident_id
    ]
    assert back
    root = back[0]
    while root["parent_id"] is not None:
        root = by_id[root["parent_id"]]
    assert root["attributes"]["sync.integration_type"] == "servicenow"
    assert root["attributes"]["sync.direction"] == "inbound"
    assert root["attributes"]["sync.external_id"] == round_trip.sys_id
