"""Shared state in Redis: dedupe marks, links, each record's last known values, and the
fingerprints of our own writes that are waiting for their echo.

Keys are scoped by tenant: `is:{tenant}:...`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from redis.asyncio import Redis

from syncmodel.conflicts import FieldWrite
from syncmodel.echo import fingerprint


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_VERSION = "\x00v:"  # "\x00v:<field>" holds the version of a field's value; no field has \x00
_PREV = "\x00p:"  # "\x00p:<field>": the value our write replaced (what a person last set)
_TS = "\x00t:"  # "\x00t:<field>": source time of the change our write put there ("" = not ours)


@dataclass(frozen=True)
class KnownState:
    """What we last knew of one record: values, the tool's version of each, and for values
    our own write put there, the source time of the change we wrote."""

    fields: dict[str, str | None]
    versions: dict[str, str]
    written_ts: dict[str, datetime]
    replaced: dict[str, str | None] = field(default_factory=dict)  # what our write replaced


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
    async def known_state(self, tenant: str, integration_id: str, external_id: str) -> KnownState:
        raw = await self.redis.hgetall(f"{_p(tenant)}state:{integration_id}:{external_id}")
        known = KnownState({}, {}, {})
        for key, value in raw.items():
            name = _s(key)
            if name.startswith(_VERSION):
                known.versions[name[len(_VERSION) :]] = _s(value)
            elif name.startswith(_PREV):
                known.replaced[name[len(_PREV) :]] = _s(value)
            elif name.startswith(_TS):
                if value:
                    known.written_ts[name[len(_TS) :]] = datetime.fromisoformat(_s(value))
            else:
                known.fields[name] = _s(value)
        return known

    async def remember_state(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        version: str | None = None,
        written_ts: datetime | None = None,
        ours: Collection[str] = (),
        replaced: Mapping[str, str | None] | None = None,
    ) -> None:
        """Remember values seen on (or written to) a record.

        `written_ts`: these values are our own write of a change made at that (source) time.
        Otherwise they were observed, which clears the mark, except for the fields in `ours`
        (the echo of our write: the value is still the one we put there).
        """
        mapping: dict[str, str] = {k: v if v is not None else "" for k, v in fields.items()}
        if version is not None:
            mapping.update({_VERSION + k: version for k in fields})
        if written_ts is not None:
            mapping.update({_TS + k: written_ts.isoformat() for k in fields})
            if replaced is not None:
                mapping.update({_PREV + k: replaced.get(k) or "" for k in fields})
        else:
            mapping.update({_TS + k: "" for k in fields if k not in ours})
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
        """Record what we are about to write, before writing, so its echo is recognised;
        and that the write is pending until its echo is seen."""
        pending = f"{_p(tenant)}pending:{integration_id}:{external_id}"
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, value in fields.items():
                pipe.set(
                    self._fp_key(tenant, integration_id, external_id, name, value), b"1", ex=ttl_s
                )
            if fields:
                pipe.hset(pending, mapping={k: v or "" for k, v in fields.items()})
                pipe.expire(pending, ttl_s)
            await pipe.execute()

    async def consume_echo(
        self, tenant: str, integration_id: str, external_id: str, field: str, value: str | None
    ) -> bool:
        """True (once) when this value is the echo of our own write."""
        key = self._fp_key(tenant, integration_id, external_id, field, value)
        return bool(await self.redis.delete(key))

    async def pending_writes(
        self, tenant: str, integration_id: str, external_id: str
    ) -> dict[str, str]:
        """Our writes to the record whose echo has not been seen yet: field -> value."""
        raw = await self.redis.hgetall(f"{_p(tenant)}pending:{integration_id}:{external_id}")
        return {_s(k): _s(v) for k, v in raw.items()}

    async def settle_pending(
        self, tenant: str, integration_id: str, external_id: str, fields: Collection[str]
    ) -> None:
        """The echo of our write of these fields came back: no longer pending."""
        if fields:
            await self.redis.hdel(f"{_p(tenant)}pending:{integration_id}:{external_id}", *fields)

    # -- the arbiter's memory: the last change let through per incident field ---------------
    async def field_writes(
        self, tenant: str, platform_incident_id: str, fields: list[str]
    ) -> dict[str, FieldWrite]:
        if not fields:
            return {}
        raw = await self.redis.hmget(f"{_p(tenant)}fw:{platform_incident_id}", fields)
        out: dict[str, FieldWrite] = {}
        for name, value in zip(fields, raw, strict=True):
            if value is not None:
                data = orjson.loads(value)
                out[name] = FieldWrite(
                    data["side"], data["value"], datetime.fromisoformat(data["ts"])
                )
        return out

    async def set_field_writes(
        self, tenant: str, platform_incident_id: str, writes: Mapping[str, FieldWrite]
    ) -> None:
        if writes:
            mapping = {
                f: orjson.dumps({"side": w.side, "value": w.value, "ts": w.ts.isoformat()})
                for f, w in writes.items()
            }
            await self.redis.hset(f"{_p(tenant)}fw:{platform_incident_id}", mapping=mapping)  # type: ignore[arg-type]

    # -- fields parked for manual review ------------------------------------------------------
    async def parked(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        """field -> the pending conflict that parks it."""
        raw = await self.redis.hgetall(f"{_p(tenant)}parked:{platform_incident_id}")
        return {_s(k): _s(v) for k, v in raw.items()}

    async def park(
        self, tenant: str, platform_incident_id: str, field: str, conflict_id: str
    ) -> None:
        await self.redis.hset(f"{_p(tenant)}parked:{platform_incident_id}", field, conflict_id)

    async def unpark(self, tenant: str, platform_incident_id: str, field: str) -> None:
        await self.redis.hdel(f"{_p(tenant)}parked:{platform_incident_id}", field)

    # -- versions our own writes produced ------------------------------------------------------
    async def add_our_write(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        version: str,
        fields: Collection[str],
        ttl_s: int,
    ) -> None:
        """Remember which fields our write set at the version the tool gave it."""
        key = f"{_p(tenant)}ours:{integration_id}:{external_id}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, version, "\x00".join(fields))
            pipe.expire(key, ttl_s)
            await pipe.execute()

    async def our_write(
        self, tenant: str, integration_id: str, external_id: str, version: str
    ) -> set[str]:
        """The fields our write set at `version` (empty if that version is not ours)."""
        value = await self.redis.hget(f"{_p(tenant)}ours:{integration_id}:{external_id}", version)
        return set(_s(value).split("\x00")) if value else set()
