"""The chart's alert rules (and the dashboard's panels of shared values), evaluated by
Prometheus itself: `promtool test rules` (Debian's `prometheus` package; scripts/bootstrap.sh
installs it) on the rendered PrometheusRule, with input series as two replicas export them.
A value every worker exports about shared state (the DLQ and quarantine depths, the group's
lag) must count once, not once per replica; a value only one replica has (a circuit, a retry
partition's depth, the reconcile time of the lease holder) must still be seen."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ALL_ON, NAMESPACE, RELEASE, dashboard, of_kind, render

PROMTOOL = shutil.which("promtool")
SERVICE = f"{RELEASE}-incident-sync"


def series(metric: str, pod: str, values: str, **labels: str) -> dict[str, str]:
    """One input series as the scrape of `pod` labels it."""
    component = pod.rsplit("-", 1)[0]
    every = {"namespace": NAMESPACE, "pod": pod, "service": f"{SERVICE}-{component}", **labels}
    text = ", ".join(f'{k}="{v}"' for k, v in every.items())
    return {"series": f"{metric}{{{text}}}", "values": values}


@dataclass
class Case:
    alert: str
    input: list[dict[str, str]]
    # eval time -> the alerts expected then (labels without alertname; annotations in full)
    expect: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def fired(labels: dict[str, str], **annotations: str) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": annotations}


DLQ_HELP = (
    'List with "im integration dlq prod-snow" and retry with "im integration dlq-retry"; '
    "each entry carries the tool's reason."
)
QUARANTINE_HELP = (
    'List with "im quarantine list --stage gate" (integration "-": the tenant\'s), fix the '
    'cause, then "im quarantine retry"; each entry carries its error and original bytes.'
)
WARN, CRIT = {"severity": "warning"}, {"severity": "critical"}
SNOW = {"integration": "prod-snow"}
DLQ = "incident_sync_dlq_depth"
QUARANTINE = "incident_sync_quarantine_depth"
DELIVERIES = "incident_sync_deliveries_total"
WEBHOOKS = "incident_sync_webhooks_received_total"
RUNS = "incident_sync_reconcile_runs_total"
LAST_RUN = "incident_sync_reconcile_last_success_timestamp_seconds"

CASES = [
    # Both workers export the one DLQ index's depth, growing by one a minute: 30 in 30 min.
    Case("IncidentSyncDLQGrowing",
         [series(DLQ, "outbound-a", "0+1x60", **SNOW), series(DLQ, "outbound-b", "0+1x60", **SNOW),
          series(DLQ, "outbound-a", "5x60", integration="prod-jira"),  # not growing
          series(DLQ, "outbound-b", "5x60", integration="prod-jira")],
         {"10m": [],
          "40m": [fired({**WARN, **SNOW},
                        summary="DLQ of prod-snow is growing (30 more in 30 min)",
                        description=DLQ_HELP)]}),
    Case("IncidentSyncQuarantined",
         [series(QUARANTINE, "outbound-a", "0x2 2x20", stage="gate", **SNOW),
          series(QUARANTINE, "outbound-b", "0x2 2x20", stage="gate", **SNOW),
          series(QUARANTINE, "outbound-a", "0x22", stage="arbiter", integration="-"),
          series(QUARANTINE, "outbound-b", "0x22", stage="arbiter", integration="-")],
         {"4m": [],
          "10m": [fired({**WARN, **SNOW, "stage": "gate"},
                        summary="2 messages of prod-snow wait in the quarantine (stage gate)",
                        description=QUARANTINE_HELP)]}),
    # Only the worker whose requests failed has the circuit open.
    Case("IncidentSyncCircuitOpen",
         [series("incident_sync_circuit_state", "outbound-a", "2x20", **SNOW),
          series("incident_sync_circuit_state", "outbound-b", "0x20", **SNOW)],
         {"10m": [fired({**CRIT, **SNOW}, summary="The circuit to prod-snow is open")]}),
    # Partition 0 moved from b to a: b still shows its last value; partition 1 is b's.
    Case("IncidentSyncRetryBacklog",
         [series("incident_sync_retry_depth", "outbound-a", "400x30", topic="sync.retry.1",
                 partition="0"),
          series("incident_sync_retry_depth", "outbound-b", "400x30", topic="sync.retry.1",
                 partition="0"),
          series("incident_sync_retry_depth", "outbound-b", "200x30", topic="sync.retry.1",
                 partition="1")],
         {"20m": [fired({**WARN, "topic": "sync.retry.1"},
                        summary="600 commands wait on sync.retry.1")]}),
    # Every worker reads the group's lag of every partition.
    Case("IncidentSyncConsumerLagHigh",
         [series("incident_sync_consumer_lag", pod, "800x30", topic="sync.inbound", partition="0")
          for pod in ("outbound-a", "outbound-b")]
         + [series("incident_sync_consumer_lag", pod, "300x30", topic="sync.inbound",
                   partition="1") for pod in ("outbound-a", "outbound-b")],
         {"15m": [fired({**WARN, "topic": "sync.inbound"},
                        summary="The workers are 1100 messages behind on sync.inbound")]}),
    # 3 failed of 20 writes a minute, the failures all on one worker.
    Case("IncidentSyncErrorRatioHigh",
         [series(DELIVERIES, "outbound-a", "0+7x30", outcome="written", **SNOW),
          series(DELIVERIES, "outbound-a", "0+3x30", outcome="failed", **SNOW),
          series(DELIVERIES, "outbound-b", "0+10x30", outcome="written", **SNOW),
          series(DELIVERIES, "outbound-b", "0x30", outcome="failed", **SNOW)],
         {"25m": [fired({**CRIT, **SNOW}, summary="15% of the writes to prod-snow fail")]}),
    Case("IncidentSyncDeadLettered",
         [series(DELIVERIES, "outbound-a", "0x5 1x20", outcome="failed", **SNOW),
          series(DELIVERIES, "outbound-b", "0x25", outcome="failed", **SNOW)],
         {"3m": [],
          "10m": [fired({**WARN, **SNOW},
                        summary="Writes to prod-snow were dead-lettered in the last 15 min")]}),
    # Every write of both workers took between 5 and 10 s.
    Case("IncidentSyncPropagationSlow",
         [series("incident_sync_propagation_seconds_bucket", pod, values, le=le, **SNOW)
          for pod in ("outbound-a", "outbound-b")
          for le, values in (("5", "0x30"), ("10", "0+10x30"), ("+Inf", "0+10x30"))],
         {"25m": [fired({**WARN, **SNOW}, summary="p99 propagation to prod-snow is 9.95s",
                        description="Target: 5 s. Check consumer lag, retries and the tool's "
                        "rate limits.")]}),
    Case("IncidentSyncWebhooksRefused",
         [series(WEBHOOKS, "ingress-a", "0+9x30", outcome="accepted", type="servicenow", **SNOW),
          series(WEBHOOKS, "ingress-b", "0+9x30", outcome="accepted", type="servicenow", **SNOW),
          series(WEBHOOKS, "ingress-a", "0+2x30", outcome="unauthorized", type="servicenow",
                 **SNOW)],
         {"25m": [fired({**WARN, **SNOW}, summary="10% of prod-snow's webhooks are refused")]}),
    Case("IncidentSyncIngressUnavailable",
         [series(WEBHOOKS, "ingress-a", "0+1x20", outcome="unavailable", type="servicenow",
                 **SNOW),
          series(WEBHOOKS, "ingress-b", "0x20", outcome="unavailable", type="servicenow", **SNOW)],
         {"10m": [fired(CRIT, summary="Webhooks are refused with 503 (the broker does not "
                                      "acknowledge)")]}),
    Case("IncidentSyncStageErrors",
         [series("incident_sync_stage_errors_total", "outbound-a", "0+1x30", stage="gate"),
          series("incident_sync_stage_errors_total", "outbound-b", "0x30", stage="gate")],
         {"15m": [fired({**WARN, "stage": "gate"},
                        summary="Unexpected errors in the gate stage (see its logs)")]}),
    Case("IncidentSyncComponentDown",
         [series("up", "outbound-a", "0x10"), series("up", "outbound-b", "1x10")],
         {"8m": [fired({**CRIT, "namespace": NAMESPACE, "pod": "outbound-a",
                        "service": f"{SERVICE}-outbound"},
                       summary=f"{SERVICE}-outbound (outbound-a) cannot be scraped")]}),
    # The lease holder's runs of prod-snow fail; prod-jira's succeed (on the other replica).
    Case("IncidentSyncReconcileFailing",
         [series(RUNS, "reconciler-a", "0+1x60", outcome="failed", **SNOW),
          series(RUNS, "reconciler-b", "0x60", outcome="failed", **SNOW),
          series(RUNS, "reconciler-b", "0+1x60", outcome="success", integration="prod-jira")],
         {"30m": [fired({**WARN, **SNOW},
                        summary="Every reconcile run of prod-snow failed in the last hour")]}),
    # A replica that held prod-snow long ago still shows its old time; the holder a new one.
    Case("IncidentSyncReconcileStale",
         [series(LAST_RUN, "reconciler-a", "0x180", **SNOW),
          series(LAST_RUN, "reconciler-b", "9000x180", **SNOW),
          series(LAST_RUN, "reconciler-a", "0x180", integration="prod-jira")],
         {"3h": [fired({**WARN, "integration": "prod-jira"},
                       summary="No successful reconcile of prod-jira for 3h 0m 0s")]}),
]  # fmt: skip


def rules_file(directory: Path) -> Path:
    """The rendered PrometheusRule's groups, as Prometheus reads a rules file."""
    (rule,) = of_kind(render(*ALL_ON), "PrometheusRule")
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def promtool_test(directory: Path, case: Case) -> subprocess.CompletedProcess[str]:
    test = {
        "rule_files": [str(rules_file(directory))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": case.input,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": case.alert, "exp_alerts": alerts}
                    for at, alerts in case.expect.items()
                ],
            }
        ],
    }
    path = directory / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    assert PROMTOOL is not None
    return subprocess.run(  # noqa: S603 - Debian's promtool, our own files
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module", autouse=True)
def _promtool() -> None:
    if PROMTOOL is None:
        raise AssertionError("promtool is missing: run scripts/bootstrap.sh (Debian: prometheus)")


def test_every_alert_has_a_case() -> None:
    (rule,) = of_kind(render(*ALL_ON), "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts == {c.alert for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.alert for c in CASES])
def test_the_alert_fires_as_expected_on_series_from_two_replicas(
    case: Case, tmp_path: Path
) -> None:
    done = promtool_test(tmp_path, case)
    assert done.returncode == 0, done.stdout + done.stderr


# Dashboard panels of a value every worker exports about shared state: shown once.
PANELS = [
    ("DLQ depth", "A",
     [series(DLQ, "outbound-a", "3x10", **SNOW), series(DLQ, "outbound-b", "3x10", **SNOW)],
     [('{integration="prod-snow"}', 3)]),
    ("Quarantine", "A",
     [series(QUARANTINE, pod, "2x10", stage="gate", **SNOW) for pod in ("outbound-a", "outbound-b")]
     + [series(QUARANTINE, pod, "1x10", stage="arbiter", integration="-")
        for pod in ("outbound-a", "outbound-b")],
     [('{integration="prod-snow", stage="gate"}', 2), ('{integration="-", stage="arbiter"}', 1)]),
    ("Consumer lag", "A",
     [series("incident_sync_consumer_lag", pod, "800x10", topic="sync.inbound", partition=p)
      for pod in ("outbound-a", "outbound-b") for p in ("0", "1")],
     [('{topic="sync.inbound"}', 1600)]),
]  # fmt: skip


def panel_expr(title: str, ref: str) -> str:
    """The panel's query as Grafana sends it: every namespace variable set, every integration."""
    (panel,) = [p for p in dashboard()["panels"] if p["title"] == title]
    (target,) = [t for t in panel["targets"] if t["refId"] == ref]
    expr: str = target["expr"]
    return (
        expr.replace("$namespace", NAMESPACE)
        .replace("$integration", ".*")
        .replace("$__rate_interval", "5m")
    )


@pytest.mark.parametrize(("title", "ref", "given", "shown"), PANELS, ids=[p[0] for p in PANELS])
def test_the_dashboard_shows_a_shared_value_once(
    title: str, ref: str, given: list[dict[str, str]], shown: list[tuple[str, float]],
    tmp_path: Path,
) -> None:  # fmt: skip
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": given,
                "promql_expr_test": [
                    {
                        "expr": panel_expr(title, ref),
                        "eval_time": "5m",
                        "exp_samples": [{"labels": labels, "value": v} for labels, v in shown],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    assert PROMTOOL is not None
    done = subprocess.run(  # noqa: S603 - Debian's promtool, our own files
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
