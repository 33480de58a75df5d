"""Topic names and message keys. Keys decide ordering: one key, one partition, one worker."""

from __future__ import annotations

from typing import Final

INBOUND: Final = "sync.inbound"  # ingress -> gate: raw normalized observations
CHANGES: Final = "sync.changes"  # gate -> arbiter: deduped, echo-free, linked changes
OUTBOUND: Final = "sync.outbound"  # arbiter -> delivery: one write to one side
DLQ: Final = "sync.dlq"  # commands that could not be delivered

ALL: Final = (INBOUND, CHANGES, OUTBOUND, DLQ)


def record_key(tenant: str, integration_id: str, external_id: str) -> bytes:
    """Everything observed about one record stays in order."""
    return f"{tenant}:{integration_id}:{external_id}".encode()


def incident_key(tenant: str, platform_incident_id: str) -> bytes:
    """Everything about one linked incident stays in order after the gate."""
    return f"{tenant}:{platform_incident_id}".encode()


def target_key(tenant: str, integration_id: str, target: str) -> bytes:
    """Writes to one target record stay in order; a create is keyed by its platform incident."""
    return f"{tenant}:{integration_id}:{target}".encode()
