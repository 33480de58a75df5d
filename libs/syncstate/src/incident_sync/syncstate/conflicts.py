"""Conflict records: two sides changed one field of one incident within the window.

Every detected conflict is recorded, whatever the strategy: `manual-review` ones wait as
`pending` (the field is parked) until an operator settles them; the others are recorded as
already `resolved` by their strategy, for the audit trail and the metrics.

Keys: `is:{tenant}:conflict:{id}` (the record, JSON), `is:{tenant}:conflicts:{status}` (a
sorted set of ids by detection time), `is:{tenant}:conflicts:incident:{incident}` (ids).
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin, utcnow
from incident_sync.syncmodel.fields import ConflictStrategy
from incident_sync.syncstate import keys


class ConflictStatus(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    USE_PLATFORM = "use-platform"
    USE_EXTERNAL = "use-external"
    IGNORE = "ignore"
    LAST_WRITE_WINS = "last-write-wins"  # settled automatically by the strategy
    OWNERSHIP_PRIORITY = "ownership-priority"


class SideValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    side: str
    record_id: str  # that side's record (the platform incident, or the tool's record)
    value: str | None
    ts: datetime  # that side's own clock


class ConflictRecord(BaseModel):
    id: str = Field(default_factory=lambda: "conflict-" + os.urandom(6).hex())
    tenant: str = "default"
    platform_incident_id: str
    field: str
    integration_id: str  # the integration whose settings decided it
    strategy: ConflictStrategy
    platform: SideValue  # the platform's value (or the first side's, between two tools)
    external: SideValue  # the other side's
    status: ConflictStatus = ConflictStatus.PENDING
    resolution: Resolution | None = None
    winner: str | None = None  # the side whose value stands
    resolver: str | None = None  # who settled it: a person's token name, or "auto"
    detected_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class ConflictStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def save(self, record: ConflictRecord) -> None:
        t = record.tenant
        score = record.detected_at.timestamp()
        other = (
            ConflictStatus.RESOLVED
            if record.status is ConflictStatus.PENDING
            else ConflictStatus.PENDING
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.conflict(t, record.id), record.model_dump_json())
            pipe.zadd(keys.conflicts(t, record.status.value), {record.id: score})
            pipe.zrem(keys.conflicts(t, other.value), record.id)
            pipe.sadd(keys.conflicts_of(t, record.platform_incident_id), record.id)
            await pipe.execute()

    async def get(self, tenant: str, conflict_id: str) -> ConflictRecord | None:
        raw = await self.redis.get(keys.conflict(tenant, conflict_id))
        return ConflictRecord.model_validate_json(raw) if raw is not None else None

    async def list(
        self, tenant: str, status: ConflictStatus | None = None, *, limit: int = 100
    ) -> list[ConflictRecord]:
        statuses = [status] if status is not None else list(ConflictStatus)
        ids: list[str] = []
        for st in statuses:
            raw = await self.redis.zrevrange(keys.conflicts(tenant, st.value), 0, limit - 1)
            ids.extend(i.decode() if isinstance(i, bytes) else str(i) for i in raw)
        if not ids:
            return []
        blobs = await self.redis.mget([keys.conflict(tenant, i) for i in ids])
        records = [ConflictRecord.model_validate_json(b) for b in blobs if b is not None]
        records.sort(key=lambda r: r.detected_at, reverse=True)
        return records[:limit]

    async def resolve(
        self,
        record: ConflictRecord,
        resolution: Resolution,
        *,
        winner: str | None,
        resolver: str,
    ) -> ConflictRecord:
        settled = record.model_copy(
            update={
                "status": ConflictStatus.RESOLVED,
                "resolution": resolution,
                "winner": winner,
                "resolver": resolver,
                "resolved_at": utcnow(),
            }
        )
        await self.save(settled)
        return settled


def resolution_event(
    record: ConflictRecord, resolution: Resolution, *, platform_id: str
) -> ChangeEvent:
    """The change that settles a pending conflict, to publish on `sync.inbound`.

    It travels the pipeline like any manual sync (so it is ordered with the incident's other
    changes): the chosen side's value is applied as that side's change, and the arbiter
    unparks the field. `ignore` carries no value: the field is unparked and each side keeps
    what it shows.
    """
    chosen: SideValue | None
    if resolution is Resolution.USE_PLATFORM:
        chosen = record.platform
    elif resolution is Resolution.USE_EXTERNAL:
        chosen = record.external
    elif resolution is Resolution.IGNORE:
        chosen = None
    else:
        raise ValueError(f"{resolution} is not an operator's resolution")
    side = chosen.side if chosen is not None else platform_id
    external_id = chosen.record_id if chosen is not None else record.platform_incident_id
    return ChangeEvent(
        delivery_id=f"resolve:{record.id}",
        tenant=record.tenant,
        integration_id=side,
        external_id=external_id,
        platform_incident_id=record.platform_incident_id,
        kind=ChangeKind.UPDATED,
        changes={record.field: FieldChange(new=chosen.value)} if chosen is not None else {},
        resolves_conflict=record.id,
        origin=Origin.MANUAL,
    )
