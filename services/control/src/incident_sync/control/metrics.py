"""Prometheus metrics of the control API (default registry, served on GET /metrics)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

# Defined once for every service that exports it.
from incident_sync.runtime.metrics import MANUAL_SYNCS as MANUAL_SYNCS

REQUESTS: Final = Counter(
    "incident_sync_control_requests_total",
    "Control API requests, by the route's policy action and the HTTP status answered.",
    ["action", "code"],
)
REQUEST_SECONDS: Final = Histogram(
    "incident_sync_control_request_seconds",
    "Control API request duration (authentication, policy, handler), by policy action.",
    ["action"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


def observe(action: str, status: int, seconds: float) -> None:
    REQUESTS.labels(action, str(status)).inc()
    REQUEST_SECONDS.labels(action).observe(seconds)
