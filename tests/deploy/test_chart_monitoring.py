"""The chart's monitoring: the PrometheusRule's alerts and the Grafana dashboard parse, cover
what operators need, and query only our metrics (that the services export each of them is
checked by test_observability.py after an end-to-end run)."""

from __future__ import annotations

import json

import pytest

from tests.deploy.chart import (
    ALL_ON,
    RELEASE,
    alert_exprs,
    dashboard,
    dashboard_exprs,
    named,
    of_kind,
    render,
    selectors,
)

REQUIRED_ALERTS = {
    "IncidentSyncDLQGrowing",
    "IncidentSyncConsumerLagHigh",
    "IncidentSyncErrorRatioHigh",
    "IncidentSyncPropagationSlow",
    "IncidentSyncCircuitOpen",
    "IncidentSyncReconcileFailing",
}


def test_alert_rules_parse_and_cover_the_required_alerts() -> None:
    docs = render(*ALL_ON)
    exprs = alert_exprs(docs)
    assert set(exprs) >= REQUIRED_ALERTS
    for name, expr in exprs.items():
        names = [n for n, _ in selectors(expr)]
        assert names, name
        assert all(n.startswith("incident_sync_") or n == "up" for n in names), name
    for rule in of_kind(docs, "PrometheusRule"):
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                assert r["labels"]["severity"] in ("warning", "critical")
                assert r["annotations"]["summary"]
    # The thresholds come from the values.
    slow = alert_exprs(render("metrics.prometheusRule.propagationP99TargetSeconds=2"))
    assert slow["IncidentSyncPropagationSlow"].rstrip().endswith("> 2")


def test_a_promql_typo_does_not_parse() -> None:
    with pytest.raises(ValueError):
        list(selectors("sum by (integration (rate(incident_sync_deliveries_total[5m]))"))


def test_dashboard_is_a_grafana_dashboard_of_parseable_queries() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    exprs = dashboard_exprs(board)
    assert len(exprs) > 20
    for where, expr in exprs.items():
        assert [n for n, _ in selectors(expr)], where
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
    docs = render()
    cm = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["incident-sync.json"]) == board
