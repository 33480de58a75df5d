"""Shared state in Redis: dedupe marks, links, each record's last known values, and the
fingerprints of our own writes that are waiting for their echo.

Keys are scoped by tenant: `is:{tenant}:...`. Writes come in two forms: `q_*` queues the
commands on a pipeline, so a stage sends its bookkeeping in one round trip (each one a network
round trip and most of a Redis command's cost in the client); the async method of the same
name sends them on their own. Reads that go together have a `q_*` form and a `parse_*`
function for the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

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


def seen_key(tenant: str, scope: str, key: str) -> str:
    return f"{_p(tenant)}seen:{scope}:{key}"


def state_key(tenant: str, integration_id: str, external_id: str) -> str:
    return f"{_p(tenant)}state:{integration_id}:{external_id}"


def ours_key(tenant: str, integration_id: str, external_id: str) -> str:
    return f"{_p(tenant)}ours:{integration_id}:{external_id}"


def pending_key(tenant: str, integration_id: str, external_id: str) -> str:
    return f"{_p(tenant)}pending:{integration_id}:{external_id}"


def link_key(tenant: str, integration_id: str, external_id: str) -> str:
    return f"{_p(tenant)}link:{integration_id}:{external_id}"


def links_key(tenant: str, platform_incident_id: str) -> str:
    return f"{_p(tenant)}links:{platform_incident_id}"


def fp_key(
    tenant: str, integration_id: str, external_id: str, field: str, value: str | None
) -> str:
    return f"{_p(tenant)}fp:{integration_id}:{external_id}:{fingerprint(field, value)}"


def _fw_key(tenant: str, platform_incident_id: str) -> str:
    return f"{_p(tenant)}fw:{platform_incident_id}"


def _parked_key(tenant: str, platform_incident_id: str) -> str:
    return f"{_p(tenant)}parked:{platform_incident_id}"


def parse_hash(raw: Mapping[Any, Any] | Sequence[Any]) -> dict[str, str]:
    """A hash as HGETALL answers it (a mapping, or the flat list a Lua script returns)."""
    if isinstance(raw, Mapping):
        return {_s(k): _s(v) for k, v in raw.items()}
    return {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}


def parse_known(raw: Mapping[Any, Any] | Sequence[Any]) -> KnownState:
    """A record's state hash (HGETALL) as values, versions and our writes' marks."""
    known = KnownState({}, {}, {})
    for name, value in parse_hash(raw).items():
        if name.startswith(_VERSION):
            known.versions[name[len(_VERSION) :]] = value
        elif name.startswith(_PREV):
            known.replaced[name[len(_PREV) :]] = value
        elif name.startswith(_TS):
            if value:
                known.written_ts[name[len(_TS) :]] = datetime.fromisoformat(value)
        else:
            known.fields[name] = value
    return known


def parse_ours(value: bytes | str | None) -> set[str]:
    """The fields one of our writes set (the `ours:` entry of a version)."""
    return set(_s(value).split("\x00")) if value else set()


def parse_field_writes(fields: Sequence[str], raw: Sequence[Any]) -> dict[str, FieldWrite]:
    out: dict[str, FieldWrite] = {}
    for name, value in zip(fields, raw, strict=True):
        if value is not None:
            data = orjson.loads(value)
            out[name] = FieldWrite(data["side"], data["value"], datetime.fromisoformat(data["ts"]))
    return out


def _state_mapping(
    fields: Mapping[str, str | None],
    version: str | None,
    written_ts: datetime | None,
    ours: Collection[str],
    replaced: Mapping[str, str | None] | None,
) -> dict[str, str]:
    mapping: dict[str, str] = {k: v if v is not None else "" for k, v in fields.items()}
    if version is not None:
        mapping.update({_VERSION + k: version for k in fields})
    if written_ts is not None:
        mapping.update({_TS + k: written_ts.isoformat() for k in fields})
        if replaced is not None:
            mapping.update({_PREV + k: replaced.get(k) or "" for k in fields})
    else:
        mapping.update({_TS + k: "" for k in fields if k not in ours})
    return mapping


class StateStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def pipeline(self) -> Pipeline:
        """For the `q_*` methods: commands sent together, in order, not as a transaction."""
        return self.redis.pipeline(transaction=False)

    # -- dedupe ------------------------------------------------------------------------------
    async def seen(self, tenant: str, scope: str, key: str) -> bool:
        return bool(await self.redis.exists(seen_key(tenant, scope, key)))

    def q_seen(self, pipe: Pipeline, tenant: str, scope: str, key: str) -> None:
        pipe.exists(seen_key(tenant, scope, key))

    async def mark_seen(self, tenant: str, scope: str, key: str, ttl_s: int) -> None:
        """Marked only once the outcome is durable, so a crash before it means a redo."""
        await self.redis.set(seen_key(tenant, scope, key), b"1", ex=ttl_s)

    def q_mark_seen(self, pipe: Pipeline, tenant: str, scope: str, key: str, ttl_s: int) -> None:
        pipe.set(seen_key(tenant, scope, key), b"1", ex=ttl_s)

    # -- links -------------------------------------------------------------------------------
    async def link(
        self, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
    ) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self.q_link(pipe, tenant, platform_incident_id, integration_id, external_id)
            await pipe.execute()

    def q_link(
        self,
        pipe: Pipeline,
        tenant: str,
        platform_incident_id: str,
        integration_id: str,
        external_id: str,
    ) -> None:
        """Both ways; queue it on a transaction so neither is found without the other."""
        pipe.hset(links_key(tenant, platform_incident_id), integration_id, external_id)
        pipe.set(link_key(tenant, integration_id, external_id), platform_incident_id)

    async def platform_incident_for(
        self, tenant: str, integration_id: str, external_id: str
    ) -> str | None:
        value = await self.redis.get(link_key(tenant, integration_id, external_id))
        return _s(value) if value is not None else None

    async def links_of(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        return parse_hash(await self.redis.hgetall(links_key(tenant, platform_incident_id)))

    # -- last known state ----------------------------------------------------------------------
    async def known_state(self, tenant: str, integration_id: str, external_id: str) -> KnownState:
        return parse_known(await self.redis.hgetall(state_key(tenant, integration_id, external_id)))

    def q_known_state(
        self, pipe: Pipeline, tenant: str, integration_id: str, external_id: str
    ) -> None:
        """The answer is read by `parse_known`."""
        pipe.hgetall(state_key(tenant, integration_id, external_id))

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
        mapping = _state_mapping(fields, version, written_ts, ours, replaced)
        if mapping:
            key = state_key(tenant, integration_id, external_id)
            await self.redis.hset(key, mapping=mapping)  # type: ignore[arg-type]

    def q_remember_state(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        version: str | None = None,
        written_ts: datetime | None = None,
        ours: Collection[str] = (),
        replaced: Mapping[str, str | None] | None = None,
    ) -> None:
        """`remember_state`, queued."""
        mapping = _state_mapping(fields, version, written_ts, ours, replaced)
        if mapping:
            key = state_key(tenant, integration_id, external_id)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]

    # -- echo fingerprints ---------------------------------------------------------------------
    async def expect_echo(
        self,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        ttl_s: int,
    ) -> None:
        async with self.pipeline() as pipe:
            self.q_expect_echo(pipe, tenant, integration_id, external_id, fields, ttl_s)
            await pipe.execute()

    def q_expect_echo(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        ttl_s: int,
    ) -> None:
        """Record what we are about to write, before writing, so its echo is recognised;
        and that the write is pending until its echo is seen."""
        for name, value in fields.items():
            pipe.set(fp_key(tenant, integration_id, external_id, name, value), b"1", ex=ttl_s)
        if fields:
            pending = pending_key(tenant, integration_id, external_id)
            pipe.hset(pending, mapping={k: v or "" for k, v in fields.items()})
            pipe.expire(pending, ttl_s)

    async def consume_echo(
        self, tenant: str, integration_id: str, external_id: str, field: str, value: str | None
    ) -> bool:
        """True (once) when this value is the echo of our own write."""
        key = fp_key(tenant, integration_id, external_id, field, value)
        return bool(await self.redis.delete(key))

    async def pending_writes(
        self, tenant: str, integration_id: str, external_id: str
    ) -> dict[str, str]:
        """Our writes to the record whose echo has not been seen yet: field -> value."""
        return parse_hash(
            await self.redis.hgetall(pending_key(tenant, integration_id, external_id))
        )

    def q_pending_writes(
        self, pipe: Pipeline, tenant: str, integration_id: str, external_id: str
    ) -> None:
        """The answer is read by `parse_hash`."""
        pipe.hgetall(pending_key(tenant, integration_id, external_id))

    async def settle_pending(
        self, tenant: str, integration_id: str, external_id: str, fields: Collection[str]
    ) -> None:
        """The echo of our write of these fields came back: no longer pending."""
        if fields:
            await self.redis.hdel(pending_key(tenant, integration_id, external_id), *fields)

    def q_settle_pending(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Collection[str],
    ) -> None:
        if fields:
            pipe.hdel(pending_key(tenant, integration_id, external_id), *fields)

    def q_not_written(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
    ) -> None:
        """A write we expected an echo of did not happen: take its marks back."""
        for name, value in fields.items():
            pipe.delete(fp_key(tenant, integration_id, external_id, name, value))
        self.q_settle_pending(pipe, tenant, integration_id, external_id, list(fields))

    # -- the arbiter's memory: the last change let through per incident field ---------------
    async def field_writes(
        self, tenant: str, platform_incident_id: str, fields: list[str]
    ) -> dict[str, FieldWrite]:
        if not fields:
            return {}
        raw = await self.redis.hmget(_fw_key(tenant, platform_incident_id), fields)
        return parse_field_writes(fields, raw)

    def q_field_writes(
        self, pipe: Pipeline, tenant: str, platform_incident_id: str, fields: list[str]
    ) -> None:
        """The answer is read by `parse_field_writes` (queues nothing without fields)."""
        if fields:
            pipe.hmget(_fw_key(tenant, platform_incident_id), fields)

    async def set_field_writes(
        self, tenant: str, platform_incident_id: str, writes: Mapping[str, FieldWrite]
    ) -> None:
        async with self.pipeline() as pipe:
            self.q_set_field_writes(pipe, tenant, platform_incident_id, writes)
            await pipe.execute()

    def q_set_field_writes(
        self,
        pipe: Pipeline,
        tenant: str,
        platform_incident_id: str,
        writes: Mapping[str, FieldWrite],
    ) -> None:
        if writes:
            mapping = {
                f: orjson.dumps({"side": w.side, "value": w.value, "ts": w.ts.isoformat()})
                for f, w in writes.items()
            }
            pipe.hset(_fw_key(tenant, platform_incident_id), mapping=mapping)  # type: ignore[arg-type]

    # -- fields parked for manual review ------------------------------------------------------
    async def parked(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        """field -> the pending conflict that parks it."""
        return parse_hash(await self.redis.hgetall(_parked_key(tenant, platform_incident_id)))

    def q_parked(self, pipe: Pipeline, tenant: str, platform_incident_id: str) -> None:
        """The answer is read by `parse_hash`."""
        pipe.hgetall(_parked_key(tenant, platform_incident_id))

    async def park(
        self, tenant: str, platform_incident_id: str, field: str, conflict_id: str
    ) -> None:
        await self.redis.hset(_parked_key(tenant, platform_incident_id), field, conflict_id)

    async def unpark(self, tenant: str, platform_incident_id: str, field: str) -> None:
        await self.redis.hdel(_parked_key(tenant, platform_incident_id), field)

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
        async with self.pipeline() as pipe:
            self.q_add_our_write(pipe, tenant, integration_id, external_id, version, fields, ttl_s)
            await pipe.execute()

    def q_add_our_write(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        version: str,
        fields: Collection[str],
        ttl_s: int,
    ) -> None:
        """Remember which fields our write set at the version the tool gave it."""
        key = ours_key(tenant, integration_id, external_id)
        pipe.hset(key, version, "\x00".join(fields))
        pipe.expire(key, ttl_s)

    async def our_write(
        self, tenant: str, integration_id: str, external_id: str, version: str
    ) -> set[str]:
        """The fields our write set at `version` (empty if that version is not ours)."""
        return parse_ours(
            await self.redis.hget(ours_key(tenant, integration_id, external_id), version)
        )
