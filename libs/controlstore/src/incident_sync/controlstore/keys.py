"""Redis key names of the control store. Every tenant's keys start with `is:{tenant}:`; the few
cluster-wide ones (tokens, the tenant index, the system audit) with `is:ctl:`."""

from __future__ import annotations

from typing import Final

TENANTS: Final = "is:ctl:tenants"  # set of tenants that have config
TOKENS: Final = "is:ctl:tokens"  # hash token id -> token record (JSON, hash of the secret)
SYSTEM_AUDIT: Final = "is:ctl:audit"  # stream: token and key actions


def token_by_hash(digest: str) -> str:
    return f"is:ctl:tokenhash:{digest}"


def integrations(tenant: str) -> str:
    """Hash of the tenant's integrations: name -> record (JSON, secrets sealed)."""
    return f"is:{tenant}:ctl:integrations"


def platform(tenant: str) -> str:
    return f"is:{tenant}:ctl:platform"


def version(tenant: str) -> str:
    """Bumped by every change to the tenant's sides; running services reload on a change."""
    return f"is:{tenant}:ctl:version"


def audit(tenant: str) -> str:
    return f"is:{tenant}:ctl:audit"


def stats(tenant: str, integration_id: str) -> str:
    """Hash of the pipeline's counters for one side (see `STAT_FIELDS`): durable, shared by
    every replica, read by `im integration sync-status`."""
    return f"is:{tenant}:stats:{integration_id}"


def conflict_counted(tenant: str, conflict_id: str) -> str:
    """Set once the conflict's operator resolution has been counted (a redelivered one is not
    counted again)."""
    return f"is:{tenant}:conflict:{conflict_id}:counted"


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
LAST_INBOUND_AT: Final = "last_inbound_at"
LAST_ERROR: Final = "last_error"
LAST_ERROR_AT: Final = "last_error_at"
