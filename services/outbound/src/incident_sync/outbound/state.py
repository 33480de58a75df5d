"""Shared state in Redis: dedupe marks, links, each record's last known values, and the
fingerprints of our own writes that are waiting for their echo.

Keys come from `syncstate.keys`. Writes come in two forms: `q_*` queues the
commands on a pipeline, so a stage sends its bookkeeping in one round trip (each one a network
round trip and most of a Redis command's cost in the client); the async method of the same
name sends them on their own. Reads that go together have a `q_*` form and a `parse_*`
function for the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.outbound.recordstate import KnownState, parse_hash, parse_known, state_write
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncstate import keys, links

__all__ = ["KnownState", "StateStore", "parse_hash", "parse_known"]


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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


class StateStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def pipeline(self) -> Pipeline:
        """For the `q_*` methods: commands sent together, in order, not as a transaction."""
        return self.redis.pipeline(transaction=False)

    # -- dedupe ------------------------------------------------------------------------------
    async def seen(self, tenant: str, scope: str, key: str) -> bool:
        return bool(await self.redis.exists(keys.seen(tenant, scope, key)))

    def q_seen(self, pipe: Pipeline, tenant: str, scope: str, key: str) -> None:
        pipe.exists(keys.seen(tenant, scope, key))

    async def mark_seen(self, tenant: str, scope: str, key: str, ttl_s: int) -> None:
        """Marked only once the outcome is durable, so a crash before it means a redo."""
        await self.redis.set(keys.seen(tenant, scope, key), b"1", ex=ttl_s)

    def q_mark_seen(self, pipe: Pipeline, tenant: str, scope: str, key: str, ttl_s: int) -> None:
        pipe.set(keys.seen(tenant, scope, key), b"1", ex=ttl_s)

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
        """Both ways (`syncstate.links.q_link`); queue it on a transaction."""
        links.q_link(pipe, tenant, platform_incident_id, integration_id, external_id)

    async def platform_incident_for(
        self, tenant: str, integration_id: str, external_id: str
    ) -> str | None:
        value = await self.redis.get(keys.link(tenant, integration_id, external_id))
        return _s(value) if value is not None else None

    async def links_of(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        return parse_hash(await self.redis.hgetall(keys.links(tenant, platform_incident_id)))

    # -- last known state ----------------------------------------------------------------------
    async def known_state(self, tenant: str, integration_id: str, external_id: str) -> KnownState:
        return parse_known(
            await self.redis.hgetall(keys.state(tenant, integration_id, external_id))
        )

    def q_known_state(
        self, pipe: Pipeline, tenant: str, integration_id: str, external_id: str
    ) -> None:
        """The answer is read by `parse_known`."""
        pipe.hgetall(keys.state(tenant, integration_id, external_id))

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
        """Remember values seen on (or written to) a record (see `q_remember_state`)."""
        async with self.pipeline() as pipe:
            self.q_remember_state(
                pipe, tenant, integration_id, external_id, fields, version, written_ts, ours,
                replaced,
            )  # fmt: skip
            await pipe.execute()

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
        *,
        sent: Mapping[str, str | None] | None = None,
        changed: Collection[str] = (),
        person: Mapping[str, str | None] | None = None,
        rows: Mapping[str, str] | None = None,
    ) -> None:
        """Remember values seen on (or written to) a record, queued.

        `written_ts`: these values are what our own write of a change made at that (source)
        time stored; `sent`: the fields where that is another form of the value sent -> the
        value sent (`outbound.recordstate`). Otherwise they were observed, which clears the
        mark, except for the fields in `ours` (the echo of our write: the value is still the
        one we put there); `changed`: observed fields whose value differs from the known one;
        `person`: with `replaced`, what a person last set there, `rows`: our writes in a row
        (`recordstate`).
        """
        write = state_write(
            fields, version, written_ts, ours, replaced, sent, changed, person, rows
        )
        key = keys.state(tenant, integration_id, external_id)
        if write.mapping:
            pipe.hset(key, mapping=write.mapping)  # type: ignore[arg-type]
        if write.cleared:
            pipe.hdel(key, *write.cleared)

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
        """Record what we are about to write, before writing, so its echo is recognised
        (the fingerprint holds "1" until the write's version is known, `q_echo_at`); and that
        the write is pending until its echo is seen."""
        for key in _fingerprints(tenant, integration_id, external_id, fields):
            pipe.set(key, b"1", ex=ttl_s)
        if fields:
            pending = keys.pending(tenant, integration_id, external_id)
            pipe.hset(pending, mapping={k: v or "" for k, v in fields.items()})
            pipe.expire(pending, ttl_s)

    def q_echo_at(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
        version: str,
    ) -> None:
        """Our write of `fields` made the tool's `version`: their fingerprints wait for an
        echo at that version or later (a snapshot older than the write that shows the same
        value shows a person's, `stages.gate.read`). A fingerprint already consumed stays
        gone."""
        for key in _fingerprints(tenant, integration_id, external_id, fields):
            pipe.set(key, version, xx=True, keepttl=True)

    def q_forget_echo(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
    ) -> None:
        """Drop the echo fingerprints of these values (a later write of ours replaced them,
        or the write did not happen)."""
        for key in _fingerprints(tenant, integration_id, external_id, fields):
            pipe.delete(key)

    async def consume_echo(
        self, tenant: str, integration_id: str, external_id: str, field: str, value: str | None
    ) -> bool:
        """True (once) when this value is the echo of our own write."""
        key = keys.echo_fingerprint(tenant, integration_id, external_id, field, value)
        return bool(await self.redis.delete(key))

    async def pending_writes(
        self, tenant: str, integration_id: str, external_id: str
    ) -> dict[str, str]:
        """Our writes to the record whose echo has not been seen yet: field -> value."""
        return parse_hash(
            await self.redis.hgetall(keys.pending(tenant, integration_id, external_id))
        )

    def q_pending_writes(
        self, pipe: Pipeline, tenant: str, integration_id: str, external_id: str
    ) -> None:
        """The answer is read by `parse_hash`."""
        pipe.hgetall(keys.pending(tenant, integration_id, external_id))

    async def settle_pending(
        self, tenant: str, integration_id: str, external_id: str, fields: Collection[str]
    ) -> None:
        """The echo of our write of these fields came back: no longer pending."""
        if fields:
            await self.redis.hdel(keys.pending(tenant, integration_id, external_id), *fields)

    def q_settle_pending(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Collection[str],
    ) -> None:
        if fields:
            pipe.hdel(keys.pending(tenant, integration_id, external_id), *fields)

    def q_not_written(
        self,
        pipe: Pipeline,
        tenant: str,
        integration_id: str,
        external_id: str,
        fields: Mapping[str, str | None],
    ) -> None:
        """A write we expected an echo of did not happen: take its marks back."""
        self.q_forget_echo(pipe, tenant, integration_id, external_id, fields)
        self.q_settle_pending(pipe, tenant, integration_id, external_id, list(fields))

    # -- the arbiter's memory: the last change let through per incident field ---------------
    async def field_writes(
        self, tenant: str, platform_incident_id: str, fields: list[str]
    ) -> dict[str, FieldWrite]:
        if not fields:
            return {}
        raw = await self.redis.hmget(keys.field_writes(tenant, platform_incident_id), fields)
        return parse_field_writes(fields, raw)

    def q_field_writes(
        self, pipe: Pipeline, tenant: str, platform_incident_id: str, fields: list[str]
    ) -> None:
        """The answer is read by `parse_field_writes` (queues nothing without fields)."""
        if fields:
            pipe.hmget(keys.field_writes(tenant, platform_incident_id), fields)

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
            pipe.hset(keys.field_writes(tenant, platform_incident_id), mapping=mapping)  # type: ignore[arg-type]

    # -- fields parked for manual review ------------------------------------------------------
    async def parked(self, tenant: str, platform_incident_id: str) -> dict[str, str]:
        """field -> the pending conflict that parks it."""
        return parse_hash(await self.redis.hgetall(keys.parked(tenant, platform_incident_id)))

    def q_parked(self, pipe: Pipeline, tenant: str, platform_incident_id: str) -> None:
        """The answer is read by `parse_hash`."""
        pipe.hgetall(keys.parked(tenant, platform_incident_id))

    async def park(
        self, tenant: str, platform_incident_id: str, field: str, conflict_id: str
    ) -> None:
        await self.redis.hset(keys.parked(tenant, platform_incident_id), field, conflict_id)

    async def unpark(self, tenant: str, platform_incident_id: str, field: str) -> None:
        await self.redis.hdel(keys.parked(tenant, platform_incident_id), field)

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
        key = keys.ours(tenant, integration_id, external_id)
        pipe.hset(key, version, "\x00".join(fields))
        pipe.expire(key, ttl_s)

    async def our_write(
        self, tenant: str, integration_id: str, external_id: str, version: str
    ) -> set[str]:
        """The fields our write set at `version` (empty if that version is not ours)."""
        return parse_ours(
            await self.redis.hget(keys.ours(tenant, integration_id, external_id), version)
        )


def _fingerprints(
    tenant: str, integration_id: str, external_id: str, fields: Mapping[str, str | None]
) -> list[str]:
    """The echo fingerprint key of each field = value of a write to one record."""
    return [
        keys.echo_fingerprint(tenant, integration_id, external_id, name, value)
        for name, value in fields.items()
    ]
