"""The pipeline's counters per integration: the fields of the hash `syncstate.keys.stats`
(durable, shared by every replica, read by `im integration sync-status`)."""

from __future__ import annotations

from typing import Final

# Counters the pipeline keeps per integration, named as operators know them from the guide.
OUTBOUND_SUCCESS: Final = "outbound_success"  # writes to the tool that succeeded
OUTBOUND_FAILED: Final = "outbound_failed"  # writes to the tool dead-lettered
INBOUND_SUCCESS: Final = "inbound_success"  # the tool's changes written to the platform
INBOUND_FAILED: Final = "inbound_failed"  # the tool's changes that failed to reach it
CONFLICTS_DETECTED: Final = "conflicts_detected"  # two sides changed a field in the window
CONFLICTS_RESOLVED: Final = "conflicts_resolved"  # settled, by the strategy or an operator
DRIFT_DISCREPANCIES: Final = "drift_discrepancies"  # found by reconcile runs (each run counts)
STAT_FIELDS: Final = (
    OUTBOUND_SUCCESS,
    OUTBOUND_FAILED,
    INBOUND_SUCCESS,
    INBOUND_FAILED,
    CONFLICTS_DETECTED,
    CONFLICTS_RESOLVED,
    DRIFT_DISCREPANCIES,
)
LAST_OUTBOUND_AT: Final = "last_outbound_at"
# Seconds from the change's arrival at the ingress to the tool acknowledging the write, of
# the last write at `last_outbound_at` (`incident_sync_propagation_seconds`, the last one).
LAST_PROPAGATION_S: Final = "last_propagation_s"
LAST_INBOUND_AT: Final = "last_inbound_at"
LAST_ERROR: Final = "last_error"
LAST_ERROR_AT: Final = "last_error_at"
