"""Links between platform incidents and tool records, as the control plane and the unlinking
of deleted records see them.

The pipeline writes links (`outbound.state.StateStore.link`): `is:{t}:links:{incident}` (hash
integration -> record id) and `is:{t}:link:{integration}:{record}` (-> incident). A record
deleted in its tool is unlinked and its integration marked detached for the incident,
`is:{t}:detached:{incident}` (hash integration -> the deleted record's id), so no new record is
made there until an operator asks for a manual sync of the incident.
"""

from __future__ import annotations

from redis.asyncio import Redis


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def links_key(tenant: str, platform_incident_id: str) -> str:
    return f"is:{tenant}:links:{platform_incident_id}"


def link_key(tenant: str, integration_id: str, external_id: str) -> str:
    return f"is:{tenant}:link:{integration_id}:{external_id}"


def detached_key(tenant: str, platform_incident_id: str) -> str:
    return f"is:{tenant}:detached:{platform_incident_id}"


async def incident_of(
    redis: Redis, tenant: str, integration_id: str, external_id: str
) -> str | None:
    value = await redis.get(link_key(tenant, integration_id, external_id))
    return _s(value) if value is not None else None


async def linked_records(redis: Redis, tenant: str, integration_id: str) -> dict[str, str]:
    """Every record of one integration that is linked: record id -> platform incident."""
    prefix = link_key(tenant, integration_id, "")
    keys = [_s(k) async for k in redis.scan_iter(match=_glob(prefix) + "*", count=500)]
    if not keys:
        return {}
    values = await redis.mget(keys)
    return {
        key[len(prefix) :]: _s(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


async def unlink(
    redis: Redis, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
) -> None:
    """Drop the link of a deleted record and mark its integration detached for the incident.
    The incident's link is dropped only if it still names this record."""
    links = links_key(tenant, platform_incident_id)
    current = await redis.hget(links, integration_id)
    async with redis.pipeline(transaction=True) as pipe:
        if current is not None and _s(current) == external_id:
            pipe.hdel(links, integration_id)
        pipe.delete(link_key(tenant, integration_id, external_id))
        pipe.hset(detached_key(tenant, platform_incident_id), integration_id, external_id)
        await pipe.execute()


async def detached(redis: Redis, tenant: str, platform_incident_id: str) -> tuple[str, ...]:
    raw = await redis.hkeys(detached_key(tenant, platform_incident_id))
    return tuple(sorted(_s(k) for k in raw))


async def reattach(redis: Redis, tenant: str, platform_incident_id: str) -> None:
    """An operator's manual sync of the incident: integrations may get a new record again."""
    await redis.delete(detached_key(tenant, platform_incident_id))


def _glob(text: str) -> str:
    """Escape glob metacharacters (tenant and integration ids are plain, but be safe)."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
