"""The chart's scaling and traffic: KEDA scales the workers on their consumer lag (never past
the partitions), the HPA, PodDisruptionBudgets, Services and Ingress select the right pods,
and the NetworkPolicies admit only the expected callers."""

from __future__ import annotations

import json

import pytest

from incident_sync.syncmodel import topics
from tests.deploy.chart import (
    ALL_ON,
    FAUST_APP_ID,
    RELEASE,
    RenderError,
    component,
    faust_app_id,
    of_kind,
    render,
)


def test_keda_scales_the_workers_on_their_consumer_group_lag() -> None:
    docs = render()
    (scaled,) = of_kind(docs, "ScaledObject")
    outbound = component(docs, "Deployment", "outbound")
    assert scaled["spec"]["scaleTargetRef"]["name"] == outbound["metadata"]["name"]
    assert "replicas" not in outbound["spec"]  # KEDA owns the count
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {faust_app_id()}
    assert faust_app_id() == FAUST_APP_ID
    assert [t["metadata"]["topic"] for t in triggers] == [
        topics.OBSERVATIONS,
        topics.LINKED,
        topics.COMMANDS,
    ]
    assert scaled["spec"]["maxReplicaCount"] <= 6


def test_more_workers_than_partitions_is_refused() -> None:
    with pytest.raises(RenderError, match=r"maxReplicas \(12\) exceeds the partitions"):
        render("outbound.keda.maxReplicas=12")
    render("outbound.keda.maxReplicas=12", "kafkaTopics.defaults.partitions=12")
    # Without KEDA the deployment has a fixed count.
    docs = render("outbound.keda.enabled=false")
    assert component(docs, "Deployment", "outbound")["spec"]["replicas"] == 2


def test_the_workers_budget_and_probe_let_a_drain_through() -> None:
    """The workers' PDB allows one disruption whatever the count (one worker, as KEDA's
    minimum, can be drained), and readiness is /ready: joined the group, so a spare worker
    holding no partition is available (tests/integration/test_worker_readiness.py)."""
    docs = render()
    pdb = component(docs, "PodDisruptionBudget", "outbound")
    assert "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["maxUnavailable"] >= 1
    outbound = component(docs, "Deployment", "outbound")
    probe = outbound["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"] == {"path": "/ready", "port": "http"}
    # One membership change at a time: the next old worker goes once the new one has joined.
    assert outbound["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}


def test_hpa_pdbs_services_and_ingress_select_the_right_pods() -> None:
    docs = render(*ALL_ON)
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    target = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
    assert target["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "ingress"
    )
    assert "replicas" not in target["spec"]

    def pods(selector: dict[str, str]) -> set[str]:
        return {
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        }

    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert len(pods(pdb["spec"]["selector"]["matchLabels"])) == 1, pdb["metadata"]["name"]
    services = of_kind(docs, "Service")
    assert {next(iter(pods(s["spec"]["selector"]))) for s in services} == set(deployments)
    # The ServiceMonitor scrapes every component's Service.
    (monitor,) = of_kind(docs, "ServiceMonitor")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert all(wanted.items() <= s["metadata"]["labels"].items() for s in services)
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    # The Ingress routes the webhook and sync paths to the ingress Service.
    ingresses = {i["metadata"]["name"]: i for i in of_kind(docs, "Ingress")}
    public = ingresses[f"{RELEASE}-incident-sync"]
    paths = public["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/webhook", "/webhooks", "/sync"]
    service_names = {s["metadata"]["name"] for s in services}
    for p in paths:
        assert p["backend"]["service"]["name"] == f"{RELEASE}-incident-sync-ingress"
        assert p["backend"]["service"]["name"] in service_names


def test_network_policies_admit_only_the_expected_callers() -> None:
    docs = render(*ALL_ON)
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    ingress = policies[f"{RELEASE}-incident-sync-ingress"]
    sources = [rule.get("from") for rule in ingress["ingress"]]
    assert all(sources), "every ingress rule names its sources"
    flat = json.dumps(sources)
    assert "ingress-nginx" in flat and "monitoring" in flat
    outbound = policies[f"{RELEASE}-incident-sync-outbound"]
    # Only Prometheus, and the `helm test` pods (by their component label).
    (scrape, helm_test) = outbound["ingress"]
    assert "monitoring" in json.dumps(scrape["from"])
    (peer,) = helm_test["from"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "helm-test"
    egress = policies[f"{RELEASE}-incident-sync-egress"]
    ports = {(p["port"], p["protocol"]) for rule in egress["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (9092, "TCP"), (6379, "TCP"), (443, "TCP"), (4318, "TCP")} <= ports
    for name in ("ingress", "outbound", "control", "reconciler"):
        assert f"{RELEASE}-incident-sync-{name}" in policies
    assert not of_kind(render("networkPolicy.enabled=false"), "NetworkPolicy")
