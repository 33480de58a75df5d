"""Prometheus metrics of the processors."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Defined once for every service that exports it.
from incident_sync.runtime.metrics import QUARANTINED as QUARANTINED

GATE_EVENTS = Counter(
    "incident_sync_gate_events_total",
    "Observed changes by the gate's decision (passed, or why dropped).",
    ["integration", "decision"],
)
DECLARED = Counter(
    "incident_sync_declared_total",
    "Platform incidents declared from a tool's record (its integration's declare rule).",
    ["integration"],
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

# -- the delivery path: sync counters, the retry ladder, the DLQ, circuits, lag ------------------
OUTBOUND_TOTAL = Counter(
    "incident_sync_outbound",
    "Writes to a tool: success, or failed (dead-lettered). The numbers of sync-status.",
    ["integration", "type", "outcome"],
)
INBOUND_TOTAL = Counter(
    "incident_sync_inbound",
    "A tool's changes written to the platform: success, or failed (dead-lettered).",
    ["integration", "type", "outcome"],
)
RETRIES = Counter(
    "incident_sync_delivery_retries_total",
    "Failed attempts sent up the retry ladder (another attempt is due later).",
    ["integration"],
)
DEFERRED = Counter(
    "incident_sync_delivery_deferred_total",
    "Commands held back without spending an attempt, by reason (blocked: the tool's "
    "Retry-After; circuit_open; rate_limited; concurrency; paused; comment_unconfirmed: a "
    "comment write whose outcome was lost waits for its echo).",
    ["integration", "reason"],
)
DLQ_DEPTH = Gauge(
    "incident_sync_dlq_depth",
    "Commands in the DLQ index awaiting retry or discard.",
    ["integration"],
)
RETRY_DEPTH = Gauge(
    "incident_sync_retry_depth",
    "Commands waiting on a delayed retry topic (end offset - committed offset).",
    ["topic", "partition"],
)
CIRCUIT_STATE = Gauge(
    "incident_sync_circuit_state",
    "Circuit breaker per tool: 0 closed, 1 half-open, 2 open.",
    ["integration"],
)
CONSUMER_LAG = Gauge(
    "incident_sync_consumer_lag",
    "The workers' consumer-group lag (end offset - committed offset) on the topics they read.",
    ["topic", "partition"],
)

# -- the quarantine: messages a stage could not process (`syncstate.quarantine`) ---------------
QUARANTINE_DEPTH = Gauge(
    "incident_sync_quarantine_depth",
    "Messages in the quarantine awaiting retry or discard, by stage and integration "
    "('-': no integration could be told). Every worker exports it: queries take max.",
    ["stage", "integration"],
)

# -- the consumer group: what this worker holds (`outbound.membership`) ------------------------
ASSIGNED_PARTITIONS = Gauge(
    "incident_sync_worker_assigned_partitions",
    "Partitions of each pipeline topic this worker holds, as of its last assignment (0 on a "
    "spare worker: one beyond the partition count, ready and waiting for a rebalance).",
    ["topic"],
)
