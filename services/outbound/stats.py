"""Per-integration sync counters in Redis, read by `im integration sync-status`.

Counted at delivery: a write to a tool is that integration's outbound success or failure; a
write to the platform carrying a tool's change is that integration's inbound success or
failure. Best effort: a counter that cannot be written is logged, never retried.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from controlstore import keys
from syncmodel.events import DeliveryCommand, utcnow

log = logging.getLogger(__name__)

SUCCESS = frozenset({"written", "created"})


async def record_delivery(
    redis: Redis, cmd: DeliveryCommand, outcome: str, platform_id: str, error: str | None
) -> None:
    if outcome not in SUCCESS and outcome != "failed":
        return  # nothing was written (e.g. skipped)
    ok = outcome in SUCCESS
    if cmd.target_integration_id == platform_id:
        if cmd.source_integration_id == platform_id:
            return
        integration = cmd.source_integration_id
        counter = keys.INBOUND_SUCCESS if ok else keys.INBOUND_FAILED
        last = keys.LAST_INBOUND_AT
    else:
        integration = cmd.target_integration_id
        counter = keys.OUTBOUND_SUCCESS if ok else keys.OUTBOUND_FAILED
        last = keys.LAST_OUTBOUND_AT
    key = keys.stats(cmd.tenant, integration)
    now = utcnow().isoformat(timespec="seconds")
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, counter, 1)
            if ok:
                pipe.hset(key, last, now)
            else:
                pipe.hset(
                    key, mapping={keys.LAST_ERROR: (error or "")[:500], keys.LAST_ERROR_AT: now}
                )
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("sync counter not written", extra={"key": key, "reason": repr(exc)})
