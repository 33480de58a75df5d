"""Metrics more than one service exports under one name: defined once, so a process that
imports several services' modules (the tests do) registers each once."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

QUARANTINED: Final = Counter(
    "incident_sync_quarantined",
    "Messages a stage could not process (undecodable, a bug, too large to produce), put in "
    "the quarantine with their stage, error and original bytes; the reconciler counts its "
    "corrective changes and polled records the broker refused.",
    ["stage", "integration"],
)

# The ingress counts its `/sync` routes, the control API its manual syncs (one per record
# queued).
MANUAL_SYNCS: Final = Counter(
    "incident_sync_manual_syncs_total",
    "Manual sync requests, by side and outcome.",
    ["integration", "outcome"],
)
