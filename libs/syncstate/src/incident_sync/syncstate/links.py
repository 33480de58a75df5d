"""Links between platform incidents and tool records, and the pipeline's known state, as the
control plane, the unlinking of deleted records and the reconciler see them.

The outbound worker writes these keys (the links through `q_link`, as `link_pair` does for an
operator's link of an existing record; `incident_sync.syncstate.keys` names them,
`incident_sync.outbound.recordstate` lays out the state hash): `is:{t}:links:{incident}`
(hash integration -> external id),
`is:{t}:link:{integration}:{external_id}` (-> incident), `is:{t}:state:{side}:{record}` (the
record's last known values; bookkeeping fields start with NUL, and `\\0s:<field>` holds the
value we sent where the tool stored another form of it), `is:{t}:fw:{incident}` (the
arbiter's standing change per field), `is:{t}:parked:{incident}` (fields awaiting manual
review). A record deleted in its tool is unlinked and its integration marked detached for
the incident, `is:{t}:detached:{incident}` (hash integration -> the deleted record's id), so
no new record is made there until an operator asks for a manual sync of the incident. Bulk
reads are pipelined, so comparing thousands of links costs a handful of round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncstate import keys

SCAN_COUNT = 1_000
CHUNK = 500  # keys per pipelined batch
_SENT = "\x00s:"  # a field's sent mark in the state hash (`outbound/recordstate.py`)


@dataclass(frozen=True)
class Known:
    """What the pipeline last knew of one record: canonical field -> value, and where that
    value is the tool's stored form of a value we wrote, that value (field -> value sent)."""

    fields: dict[str, str | None]
    sent: dict[str, str | None]


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def incident_of(
    redis: Redis, tenant: str, integration_id: str, external_id: str
) -> str | None:
    value = await redis.get(keys.link(tenant, integration_id, external_id))
    return _s(value) if value is not None else None


async def linked_records(redis: Redis, tenant: str, integration_id: str) -> dict[str, str]:
    """Every record of one integration that is linked: record id -> platform incident."""
    prefix = keys.link(tenant, integration_id, "")
    match = _glob(prefix) + "*"
    found = [_s(k) async for k in redis.scan_iter(match=match, count=SCAN_COUNT)]
    out: dict[str, str] = {}
    for chunk in _chunks(found):
        for key, value in zip(chunk, await redis.mget(chunk), strict=True):
            if value is not None:
                out[key[len(prefix) :]] = _s(value)
    return out


async def incidents_of(
    redis: Redis, tenant: str, integration_id: str, external_ids: Sequence[str]
) -> dict[str, str]:
    """The linked ones among `external_ids`: record id -> platform incident (MGET in chunks)."""
    out: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(external_ids))):
        found = await redis.mget([keys.link(tenant, integration_id, r) for r in chunk])
        out |= {r: _s(v) for r, v in zip(chunk, found, strict=True) if v is not None}
    return out


def q_link(
    pipe: Pipeline, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
) -> None:
    """Link both ways; queue it on a transaction so neither is found without the other."""
    pipe.hset(keys.links(tenant, platform_incident_id), integration_id, external_id)
    pipe.set(keys.link(tenant, integration_id, external_id), platform_incident_id)


@dataclass(frozen=True)
class PairLink:
    """The outcome of `link_pair`: `linked` (written now), `unchanged` (this pair was linked
    already) or `taken` (nothing written: the record's incident, the incident's record in the
    integration, whichever is another)."""

    result: str
    record_incident: str | None = None
    incident_record: str | None = None


async def link_pair(
    redis: Redis, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
) -> PairLink:
    """Link one record to one incident unless either is linked to another already (a link
    is never moved silently). Atomic: both keys are watched between the read and the write.
    The link ends the integration's detachment for the incident (an operator chose its
    record)."""
    record_key = keys.link(tenant, integration_id, external_id)
    links_key = keys.links(tenant, platform_incident_id)
    while True:
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(record_key, links_key)
                raw_incident = await pipe.get(record_key)
                raw_record = await pipe.hget(links_key, integration_id)
                incident = _s(raw_incident) if raw_incident is not None else None
                record = _s(raw_record) if raw_record is not None else None
                if incident == platform_incident_id and record == external_id:
                    await pipe.unwatch()  # type: ignore[no-untyped-call]
                    return PairLink("unchanged")
                other_incident = incident if incident != platform_incident_id else None
                other_record = record if record != external_id else None
                if other_incident is not None or other_record is not None:
                    await pipe.unwatch()  # type: ignore[no-untyped-call]
                    return PairLink("taken", other_incident, other_record)
                # Neither is linked elsewhere (one way of this pair may be written already:
                # the write completes it).
                pipe.multi()  # type: ignore[no-untyped-call]
                q_link(pipe, tenant, platform_incident_id, integration_id, external_id)
                pipe.hdel(keys.detached(tenant, platform_incident_id), integration_id)
                await pipe.execute()
                return PairLink("linked")
            except WatchError:
                continue  # written meanwhile: read again


async def unlink(
    redis: Redis, tenant: str, platform_incident_id: str, integration_id: str, external_id: str
) -> None:
    """Drop the link of a deleted record and mark its integration detached for the incident.
    The incident's link is dropped only if it still names this record."""
    links = keys.links(tenant, platform_incident_id)
    current = await redis.hget(links, integration_id)
    async with redis.pipeline(transaction=True) as pipe:
        if current is not None and _s(current) == external_id:
            pipe.hdel(links, integration_id)
        pipe.delete(keys.link(tenant, integration_id, external_id))
        pipe.hset(keys.detached(tenant, platform_incident_id), integration_id, external_id)
        await pipe.execute()


async def detached(redis: Redis, tenant: str, platform_incident_id: str) -> tuple[str, ...]:
    raw = await redis.hkeys(keys.detached(tenant, platform_incident_id))
    return tuple(sorted(_s(k) for k in raw))


async def reattach(redis: Redis, tenant: str, platform_incident_id: str) -> None:
    """An operator's manual sync of the incident: integrations may get a new record again."""
    await redis.delete(keys.detached(tenant, platform_incident_id))


def _glob(text: str) -> str:
    """Escape glob metacharacters (tenant and integration ids are plain, but be safe)."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _chunks(items: Sequence[str], size: int = CHUNK) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class LinkView:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def links(self, tenant: str, integration: str) -> dict[str, str]:
        """Every link of the integration: external id -> platform incident id."""
        return await linked_records(self.redis, tenant, integration)

    async def known(self, tenant: str, side: str, record_ids: Sequence[str]) -> dict[str, Known]:
        """What the pipeline last knew of each record: its values and our writes' sent marks."""
        rows = await self._each("hgetall", [keys.state(tenant, side, r) for r in record_ids])
        out: dict[str, Known] = {}
        for record, raw in zip(record_ids, rows, strict=True):
            known = Known({}, {})
            for key, value in raw.items():
                name = _s(key)
                if name.startswith(_SENT):
                    known.sent[name[len(_SENT) :]] = _s(value)
                elif not name.startswith("\x00"):
                    known.fields[name] = _s(value)
            out[record] = known
        return out

    async def standing(
        self, tenant: str, incidents: Sequence[str]
    ) -> dict[str, dict[str, FieldWrite]]:
        """The arbiter's standing change per incident field."""
        rows = await self._each("hgetall", [keys.field_writes(tenant, i) for i in incidents])
        out: dict[str, dict[str, FieldWrite]] = {}
        for incident, raw in zip(incidents, rows, strict=True):
            writes = {}
            for name, value in raw.items():
                data = orjson.loads(value)
                writes[_s(name)] = FieldWrite(
                    data["side"], data["value"], datetime.fromisoformat(data["ts"])
                )
            out[incident] = writes
        return out

    async def parked(self, tenant: str, incidents: Sequence[str]) -> dict[str, set[str]]:
        """Fields parked for manual review, per incident (only incidents that have some)."""
        rows = await self._each("hkeys", [keys.parked(tenant, i) for i in incidents])
        pairs = zip(incidents, rows, strict=True)
        return {incident: {_s(n) for n in names} for incident, names in pairs if names}

    async def _each(self, command: str, keys: Sequence[str]) -> list[Any]:
        """One read command per key, pipelined CHUNK keys at a time; answers in key order."""
        out: list[Any] = []
        for chunk in _chunks(keys):
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in chunk:
                    getattr(pipe, command)(key)
                out += await pipe.execute()
        return out

    async def unlink(
        self, tenant: str, platform_incident_id: str, integration: str, external_id: str
    ) -> None:
        """Forget one link (a record gone on one side) and what was known of the record."""
        touched = [
            keys.links(tenant, platform_incident_id),
            keys.link(tenant, integration, external_id),
            keys.state(tenant, integration, external_id),
        ]
        await self.redis.eval(_UNLINK, len(touched), *touched, integration, external_id)


# The incident's side of the link goes only if it still names this record (it may have been
# linked anew meanwhile); the record's side and its known state go in any case.
_UNLINK = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
"""
