"""A manual sync names a record that must exist in its tool: asked before the sync is
queued (`connectors.lookup`), so a caller naming a record that is not there gets 404 with the
reason instead of a 202 for a sync that can do nothing."""

from __future__ import annotations

import math

from incident_sync.connectors.lookup import Found, look_up
from incident_sync.ingress import metrics
from incident_sync.ingress.errors import ApiError
from incident_sync.ingress.handlers import RETRY_AFTER_S
from incident_sync.ingress.sides import Side


async def ensure_exists(side: Side, record_id: str) -> None:
    """404 when the tool has no such record, 503 (+ Retry-After) when it cannot be asked,
    502 when it refuses the read; counted as a manual sync outcome."""
    lookup = await look_up(side.connector, record_id)
    if lookup.found is Found.FOUND:
        return
    if lookup.found is Found.MISSING:
        metrics.MANUAL_SYNCS.labels(side.id, "not_found").inc()
        raise ApiError(404, "not_found", lookup.reason)
    if lookup.found is Found.UNAVAILABLE:
        metrics.MANUAL_SYNCS.labels(side.id, "unavailable").inc()
        wait = math.ceil(lookup.retry_after_s) if lookup.retry_after_s else RETRY_AFTER_S
        raise ApiError(503, "unavailable", lookup.reason, headers={"Retry-After": str(wait)})
    metrics.MANUAL_SYNCS.labels(side.id, "refused").inc()
    raise ApiError(502, "bad_gateway", lookup.reason)
