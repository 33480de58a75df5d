"""Prometheus metrics of the reconciler (the chart's alerts and dashboard use the first three
by exactly these names and labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Defined once for every service that exports it.
from incident_sync.runtime.metrics import QUARANTINED as QUARANTINED

DISCREPANCIES = Counter(
    "incident_sync_drift_discrepancies_total",
    "Differences found between a linked record and its platform incident, by type "
    "(mismatch, missing_external, missing_platform) and field ('' for a missing record).",
    ["integration", "type", "field"],
)
HEALED = Counter(
    "incident_sync_drift_healed_total",
    "Discrepancies an auto-heal run sent a corrective change for (or unlinked).",
    ["integration", "type", "field"],
)
UNHEALABLE = Counter(
    "incident_sync_drift_unhealable_total",
    "Discrepancies an auto-heal did not remove (found again on the same values after a heal), "
    "counted once when judged so; not healed again until a side's value changes.",
    ["integration", "field"],
)
RUNS = Counter(
    "incident_sync_reconcile_runs_total",
    "Reconcile runs by outcome (success, failed).",
    ["integration", "outcome"],
)
LAST_SUCCESS = Gauge(
    "incident_sync_reconcile_last_success_timestamp_seconds",
    "Unix time of the integration's last successful reconcile run.",
    ["integration"],
)
RUN_SECONDS = Histogram(
    "incident_sync_reconcile_run_seconds",
    "Duration of a reconcile run.",
    ["integration"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
POLLED = Counter(
    "incident_sync_poll_records_total",
    "Records the polling fallback found changed and fed to the pipeline, by side.",
    ["integration"],
)
POLLS = Counter(
    "incident_sync_polls_total",
    "Polling fallback passes by side and outcome (success, failed, unsupported).",
    ["integration", "outcome"],
)
LEASES = Gauge(
    "incident_sync_reconciler_leases_held",
    "Sides this reconciler instance works (holds the lease of): 1 held, 0 not.",
    ["integration"],
)
