"""Prometheus metrics of the processors."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GATE_EVENTS = Counter(
    "incident_sync_gate_events_total",
    "Observed changes by the gate's decision (passed, or why dropped).",
    ["integration", "decision"],
)
COMMANDS_PLANNED = Counter(
    "incident_sync_commands_planned_total",
    "Writes planned by the arbiter, by target integration.",
    ["integration"],
)
DELIVERIES = Counter(
    "incident_sync_deliveries_total",
    "Writes performed by the delivery stage, by target integration and outcome.",
    ["integration", "outcome"],
)
PROPAGATION = Histogram(
    "incident_sync_propagation_seconds",
    "From the webhook's arrival at the ingress to the write acknowledged by the target.",
    ["integration"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STAGE_ERRORS = Counter(
    "incident_sync_stage_errors_total",
    "Unexpected errors by stage (each is logged with its cause).",
    ["stage"],
)
CONFLICTS_DETECTED = Counter(
    "incident_sync_conflicts_detected_total",
    "Two sides changed one field within the conflict window, by integration and strategy.",
    ["integration", "strategy"],
)
CONFLICTS_RESOLVED = Counter(
    "incident_sync_conflicts_resolved_total",
    "Conflicts settled, by integration and how (a strategy, or an operator's choice).",
    ["integration", "resolution"],
)
