"""The heals each integration's runs sent, kept between runs (`syncmodel.healing`).

One hash per integration, `is:{tenant}:reconcile:heals:{integration}`: `{record}\\0{field}` ->
the attempt (JSON). Read whole at the start of a run, rewritten at its end: what this run sent
(or judged unhealable) is set, what it no longer found is dropped. It expires with the run
history when no run touches it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from redis.asyncio import Redis

from incident_sync.syncmodel.healing import Attempt
from incident_sync.syncstate import keys
from incident_sync.syncstate.reconcile import RUN_TTL_S


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Attempts:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def read(self, tenant: str, integration: str) -> dict[str, Attempt]:
        raw = await self.redis.hgetall(keys.reconcile_heals(tenant, integration))
        return {_s(k): Attempt.model_validate_json(v) for k, v in raw.items()}

    async def write(
        self,
        tenant: str,
        integration: str,
        keep: Mapping[str, Attempt],
        forget: Collection[str],
    ) -> None:
        key = keys.reconcile_heals(tenant, integration)
        async with self.redis.pipeline(transaction=True) as pipe:
            if forget:
                pipe.hdel(key, *forget)
            if keep:
                mapping = {k: a.model_dump_json() for k, a in keep.items()}
                pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, RUN_TTL_S)
            await pipe.execute()
