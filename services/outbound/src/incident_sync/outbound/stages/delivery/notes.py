"""Comments already written to a record, so a create that found its record does not append
its (stale) copy of the incident's latest comment again.

A create command carries the incident's whole state, latest comment included: it is the only
carrier of a comment made while the incident had no record in the tool. When the record
exists after all (another create made it, or a retry finds it by correlation), the command
falls back to an update, and its comment may have been written already, by that other create
or by a later comment's own command. Every comment write is remembered here (by fingerprint of
its normalized text, per record); a create's fallback skips a comment found here. Ordinary
comment commands are unique per change and never consult it.

Key: `is:{tenant}:notes:{integration}:{external_id}` (set, TTL = the dedupe TTL).
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.syncmodel.echo import fingerprint
from incident_sync.syncstate import keys


async def written(
    redis: Redis, tenant: str, integration_id: str, external_id: str, comment: str | None
) -> bool:
    member = fingerprint("comment", comment)
    return bool(await redis.sismember(keys.notes(tenant, integration_id, external_id), member))


def q_remember(
    pipe: Pipeline,
    tenant: str,
    integration_id: str,
    external_id: str,
    comment: str | None,
    ttl_s: int,
) -> None:
    key = keys.notes(tenant, integration_id, external_id)
    pipe.sadd(key, fingerprint("comment", comment))
    pipe.expire(key, ttl_s)
