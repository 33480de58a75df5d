"""Per-integration sync counters in Redis, read by `im integration sync-status`.

Counted at delivery: a write to a tool is that integration's outbound success or failure; a
write to the platform carrying a tool's change is that integration's inbound success or
failure. A failure is a write given up on (dead-lettered), not an attempt that will be retried.
The same numbers are exported as `incident_sync_outbound_total` / `incident_sync_inbound_total`
{integration, type, outcome}. Best effort: a counter that cannot be written is logged, never
retried (the delivery agent queues it with the command's dedupe mark).
"""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from controlstore import keys
from outbound.metrics import INBOUND_TOTAL, OUTBOUND_TOTAL
from syncmodel.config import SyncConfig
from syncmodel.events import DeliveryCommand, utcnow

SUCCESS = frozenset({"written", "created"})


def q_record_delivery(
    pipe: Pipeline, cmd: DeliveryCommand, outcome: str, config: SyncConfig, error: str | None
) -> bool:
    """Counts the delivery (exported at once, queued for Redis); False when it counts nothing.
    The pipeline's failure loses the count (logged by the caller), never the delivery."""
    if outcome not in SUCCESS and outcome != "failed":
        return False  # nothing was written (e.g. skipped), or not yet (retried, deferred, held)
    ok = outcome in SUCCESS
    platform_id = config.platform.id
    if cmd.target_integration_id == platform_id:
        if cmd.source_integration_id == platform_id:
            return False
        integration = cmd.source_integration_id
        counter = keys.INBOUND_SUCCESS if ok else keys.INBOUND_FAILED
        last = keys.LAST_INBOUND_AT
        exported = INBOUND_TOTAL
    else:
        integration = cmd.target_integration_id
        counter = keys.OUTBOUND_SUCCESS if ok else keys.OUTBOUND_FAILED
        last = keys.LAST_OUTBOUND_AT
        exported = OUTBOUND_TOTAL
    side = config.side(integration)
    tool = side.type.value if side is not None else "unknown"
    exported.labels(integration, tool, "success" if ok else "failed").inc()
    key = keys.stats(cmd.tenant, integration)
    now = utcnow().isoformat(timespec="seconds")
    pipe.hincrby(key, counter, 1)
    if ok:
        pipe.hset(key, last, now)
    else:
        pipe.hset(key, mapping={keys.LAST_ERROR: (error or "")[:500], keys.LAST_ERROR_AT: now})
    return True
