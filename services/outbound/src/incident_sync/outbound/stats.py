"""Per-integration sync counters in Redis, read by `im integration sync-status`.

Counted at delivery: a write to a tool is that integration's outbound success or failure; a
write to the platform carrying a tool's change is that integration's inbound success or
failure. A failure is a write given up on (dead-lettered), not an attempt that will be retried.
A write to a tool also records its propagation time (arrival at the ingress -> written), the
integration's `last_propagation_s`: how far behind that tool's sync is.
The same numbers are exported as `incident_sync_outbound_total` / `incident_sync_inbound_total`
{integration, type, outcome}. Best effort: a counter that cannot be written is logged, never
retried (the delivery agent queues it with the command's dedupe mark).

Counted at the arbiter: conflicts detected (with the conflict's record) and resolved, by the
strategy at once or by an operator when the arbiter applies the resolution
(`count_operator_resolution`, once per conflict), exported as
`incident_sync_conflicts_detected_total` / `incident_sync_conflicts_resolved_total`.
"""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.controlstore import stats as counters
from incident_sync.outbound.metrics import INBOUND_TOTAL, OUTBOUND_TOTAL
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import DeliveryCommand, utcnow
from incident_sync.syncstate import keys

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
        counter = counters.INBOUND_SUCCESS if ok else counters.INBOUND_FAILED
        last = counters.LAST_INBOUND_AT
        exported = INBOUND_TOTAL
    else:
        integration = cmd.target_integration_id
        counter = counters.OUTBOUND_SUCCESS if ok else counters.OUTBOUND_FAILED
        last = counters.LAST_OUTBOUND_AT
        exported = OUTBOUND_TOTAL
    side = config.side(integration)
    tool = side.type if side is not None else "unknown"
    exported.labels(integration, tool, "success" if ok else "failed").inc()
    key = keys.stats(cmd.tenant, integration)
    at = utcnow()
    now = at.isoformat(timespec="seconds")
    pipe.hincrby(key, counter, 1)
    if ok and last == counters.LAST_OUTBOUND_AT:
        # How far behind the tool's copy was: arrival at the ingress -> written there.
        seconds = round(max(0.0, (at - cmd.received_at).total_seconds()), 3)
        pipe.hset(key, mapping={last: now, counters.LAST_PROPAGATION_S: seconds})
    elif ok:
        pipe.hset(key, last, now)
    else:
        pipe.hset(
            key, mapping={counters.LAST_ERROR: (error or "")[:500], counters.LAST_ERROR_AT: now}
        )
    return True


def q_count_conflict(pipe: Pipeline, tenant: str, integration: str, *, resolved: bool) -> None:
    """A conflict detected (and, by a strategy, resolved at once): the durable counters."""
    key = keys.stats(tenant, integration)
    pipe.hincrby(key, counters.CONFLICTS_DETECTED, 1)
    if resolved:
        pipe.hincrby(key, counters.CONFLICTS_RESOLVED, 1)


# The mark and the count in one step: a resolution redelivered after a crash between the two
# would otherwise count twice (or never).
_ONCE: Final = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  return 1
end
return 0
"""


async def count_operator_resolution(
    redis: Redis, tenant: str, integration: str, conflict_id: str, ttl_s: int
) -> bool:
    """Count an operator's resolution of `conflict_id` as the arbiter applies it; False when it
    was counted already (the same resolution delivered again)."""
    counted = await redis.eval(
        _ONCE,
        2,
        keys.stats(tenant, integration),
        keys.conflict_counted(tenant, conflict_id),
        counters.CONFLICTS_RESOLVED,
        ttl_s,
    )
    return bool(counted)
