"""Prometheus metrics of the ingress (default registry, served on GET /metrics).

Label children are bound once per side, so the hot path does no label lookups.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

# Defined once for every service that exports it.
from incident_sync.runtime.metrics import MANUAL_SYNCS as MANUAL_SYNCS

OUTCOMES: Final = (
    "accepted",
    "ignored",
    "unauthorized",
    "invalid",
    "too_large",
    "unsupported_media",
    "unavailable",
)

WEBHOOKS_RECEIVED: Final = Counter(
    "incident_sync_webhooks_received_total",
    "Webhook deliveries received, by side, tool type and outcome.",
    ["integration", "type", "outcome"],
)
PUBLISH_SECONDS: Final = Histogram(
    "incident_sync_ingress_publish_seconds",
    "Time from handing events to Kafka to the broker's acknowledgement (acks=all).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_PUBLISHED: Final = Counter(
    "incident_sync_events_published_total",
    "Change events acknowledged by the broker on sync.inbound, by side and event kind.",
    ["integration", "type"],
)


class SideMetrics:
    """The label children of one side, bound up front."""

    __slots__ = ("_integration", "_published", "received")

    def __init__(self, integration: str, tool: str) -> None:
        self._integration = integration
        self.received = {o: WEBHOOKS_RECEIVED.labels(integration, tool, o) for o in OUTCOMES}
        self._published: dict[str, Counter] = {}

    def published(self, kind: str, n: int = 1) -> None:
        child = self._published.get(kind)
        if child is None:
            child = self._published[kind] = EVENTS_PUBLISHED.labels(self._integration, kind)
        child.inc(n)
