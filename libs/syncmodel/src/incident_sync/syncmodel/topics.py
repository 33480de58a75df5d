"""Topic names and message keys. Keys decide ordering: one key, one partition, one worker."""

from __future__ import annotations

from typing import Final

# The topics are named in code by what they carry; their names on the broker are deployed and
# stay as they are ("inbound" and "outbound" there are not directions: see the glossary in
# docs/architecture.md).
OBSERVATIONS: Final = "sync.inbound"  # ingress, reconciler -> gate: raw normalized observations
LINKED: Final = "sync.changes"  # gate -> arbiter: deduped, echo-free, linked changes
COMMANDS: Final = "sync.outbound"  # arbiter -> delivery: one write to one side
DLQ: Final = "sync.dlq"  # commands that could not be delivered
# Messages a stage could not process (undecodable, a bug, too large to produce): the original
# bytes with the stage and the error, until an operator retries or discards them.
QUARANTINE: Final = "sync.quarantine"
# The retry ladder's delayed topics: a command whose attempt n failed waits on
# `sync.retry.<n>` until its `not_before`, then goes back to sync.outbound. One topic per
# delay of the ladder (`syncmodel.retry.RetryPolicy`); the chart declares the default four.
RETRY_PREFIX: Final = "sync.retry."


def retry_topic(n: int) -> str:
    if n < 1:
        raise ValueError("retry topics count from 1")
    return f"{RETRY_PREFIX}{n}"


RETRY: Final = tuple(retry_topic(n) for n in range(1, 5))

ALL: Final = (OBSERVATIONS, LINKED, COMMANDS, DLQ, QUARANTINE, *RETRY)


def record_key(tenant: str, integration_id: str, external_id: str) -> bytes:
    """Everything observed about one record stays in order."""
    return f"{tenant}:{integration_id}:{external_id}".encode()


def incident_key(tenant: str, platform_incident_id: str) -> bytes:
    """Everything about one linked incident stays in order after the gate."""
    return f"{tenant}:{platform_incident_id}".encode()


def target_key(tenant: str, integration_id: str, target: str) -> bytes:
    """Writes to one target record stay in order; a create is keyed by its platform incident."""
    return f"{tenant}:{integration_id}:{target}".encode()
