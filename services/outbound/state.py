"""Shared state in Redis: dedupe marks, links, each record's last known values, and the
fingerprints of our own writes that are waiting for their echo.

Keys are scoped by tenant: `is:{tenant}:...`.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from syncmodel.echo import fingerprint


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_VERSION = "\x00v:"  # "\x00v:<field>" holds the version of a field's value; no field has \x00


def _p(tenant: str) -> str:
    return f"is:{tenant}:"


class StateStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # -- dedupe ------------------------------------------------------------------------------
    async def seen(self, tenant: str, scope: str, key: str) -> bool:
        return bool(await self.redis.exists(f"{_p(tenant)}seen:{scope}:{key}"))

    async def mark_seen(self, tenant: str, scope: str, key: str, ttl_s: int) -> None:
        """Marked only once the outcome is durable, so a crash before it means a redo."""
        await self.redis.set(f"{_p(tenant)}seen:{scope}:{key}", b"1", ex=ttl_s)

    # -- links -------------------------------------------------------------------------------
    async def link(
        self, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
    ) -> None:
        p = _p(tenant)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{p}links:{platform_incident_id}", integration_id, external_id)
            pipe.set(f"{p}link:{integration_id}:{external_id}", platform_incident_id)
            await pipe.execute()

    async def platform_incident_for(
        self, tenant: str, integration_id: str, external_id: str
    ) -> str | None:
        value = await self.redis.get(f"{_p(tenant)}link:{integration_id}:{external_id}")
        return _s(value) if value is not None else None

    async def links_of(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(f"{_p(tenant)}links:{platform_incident_id}")
        return {_s(k): _s(v) for k, v in raw.items()}

    # -- last known state ----------------------------------------------------------------------
    async def known_state(
        self, tenant: str, integration_id: str, external_id: str
    ) -> tuple[dict[str, str | None], dict[str, str]]:
        """The record's last known field values, and the source version of each."""
        raw = await self.redis.hgetall(f"{_p(tenant)}state:{integration_id}:{external_id}")
        fields: dict[str, str | None] = {}
        versions: dict[str, str] = {}
        for key, value in raw.items():
            name = _s(key)
            if name.startswith(_VERSION):
                versions[name[len(_VERSION) :]] = _s(value)
            else:
                fields[name] = _s(value)
        return fields, versions

    async def remember_state(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        version: str | None = None,
    ) -> None:
        mapping: dict[str, str] = {k: v if v is not None else "" for k, v in fields.items()}
        if version is not None:
            mapping.update({_VERSION + k: version for k in fields})
        if mapping:
            await self.redis.hset(
                f"{_p(tenant)}state:{integration_id}:{external_id}",
                mapping=mapping,  # type: ignore[arg-type]
            )

    # -- echo fingerprints ---------------------------------------------------------------------
    def _fp_key(
        self, tenant: str, integration_id: str, external_id: str, field: str, value: str | None
    ) -> str:
        return f"{_p(tenant)}fp:{integration_id}:{external_id}:{fingerprint(field, value)}"

    async def expect_echo(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        ttl_s: int,
    ) -> None:
        """Record what we are about to write, before writing, so its echo is recognised."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for field, value in fields.items():
                pipe.set(
                    self._fp_key(tenant, integration_id, external_id, field, value), b"1", ex=ttl_s
                )
            await pipe.execute()

    async def consume_echo(
        self, tenant: str, integration_id: str, external_id: str, field: str, value: str | None
    ) -> bool:
        """True (once) when this value is the echo of our own write."""
        key = self._fp_key(tenant, integration_id, external_id, field, value)
        return bool(await self.redis.delete(key))
