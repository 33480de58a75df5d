"""The dead-letter index: the commands the delivery gave up on, by integration, queryable.

`sync.dlq` is the durable record (the delivery produces there first); this index is what
operators work from (`im integration dlq`): each entry holds the command, why it died, how many
attempts it had and the tool's last answer. Retrying or discarding an entry takes it out.

Keys: `is:{tenant}:dlq:{integration}` (hash entry id -> entry JSON) and
`is:{tenant}:dlq:{integration}:at` (sorted set of entry ids by the time they died).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import cast

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from incident_sync.syncmodel import topics
from incident_sync.syncmodel.events import DeliveryCommand, utcnow
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate import keys

ENTRY_PATTERN = r"^dlq-[0-9a-f]{12}$"


def entry_id(command_id: str) -> str:
    """Stable per command: a command that dies again after a retry takes its old place."""
    return "dlq-" + hashlib.blake2b(command_id.encode(), digest_size=6).hexdigest()


def owner(cmd: DeliveryCommand, platform_id: str) -> str:
    """Whose DLQ a dead command is in: the integration written to, or, for a write to the
    platform, the integration whose change it carried."""
    if cmd.target_integration_id == platform_id:
        return cmd.source_integration_id
    return cmd.target_integration_id


def requeue(entry: DlqEntry) -> tuple[bytes, DeliveryCommand]:
    """The key and command that put a dead entry back on `sync.outbound`: attempt 1 of a
    fresh ladder, as the next hop (the dedupe mark of the dead one stays valid)."""
    cmd = entry.command.model_copy(
        update={
            "attempt": 1,
            "hop": entry.command.hop + 1,
            "not_before": None,
            "released": False,
            "last_error": entry.last_error,
        }
    )
    target = cmd.target_external_id or f"new:{cmd.platform_incident_id}"
    return topics.target_key(cmd.tenant, cmd.target_integration_id, target), cmd


class DlqEntry(BaseModel):
    id: str
    tenant: str
    integration_id: str  # whose DLQ: the tool written to (or whose change the platform refused)
    reason: DeadReason
    attempts: int  # attempts made before it died
    last_error: str  # the tool's own message (or why we could not try)
    command: DeliveryCommand
    dead_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of(
        cls,
        cmd: DeliveryCommand,
        reason: DeadReason,
        attempts: int,
        last_error: str,
        integration_id: str | None = None,
    ) -> DlqEntry:
        return cls(
            id=entry_id(cmd.command_id),
            tenant=cmd.tenant,
            integration_id=integration_id or cmd.target_integration_id,
            reason=reason,
            attempts=attempts,
            last_error=last_error,
            command=cmd,
        )

    def matches(self, reason: DeadReason | None = None, contains: str | None = None) -> bool:
        if reason is not None and self.reason is not reason:
            return False
        return contains is None or contains.lower() in self.last_error.lower()


def _keys(tenant: str, integration_id: str) -> tuple[str, str]:
    return keys.dlq(tenant, integration_id), keys.dlq_at(tenant, integration_id)


class DlqIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, entry: DlqEntry) -> None:
        entries, at = _keys(entry.tenant, entry.integration_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(entries, entry.id, entry.model_dump_json())
            pipe.zadd(at, {entry.id: entry.dead_at.timestamp()})
            await pipe.execute()

    async def get(self, tenant: str, integration_id: str, entry: str) -> DlqEntry | None:
        raw = await self.redis.hget(_keys(tenant, integration_id)[0], entry)
        return DlqEntry.model_validate_json(raw) if raw is not None else None

    async def list(
        self,
        tenant: str,
        integration_id: str,
        *,
        reason: DeadReason | None = None,
        contains: str | None = None,
        limit: int = 100,
    ) -> list[DlqEntry]:
        """Newest first."""
        entries, at = _keys(tenant, integration_id)
        out: list[DlqEntry] = []
        start, page = 0, 500
        while len(out) < limit:
            ids = cast(list[bytes], await self.redis.zrevrange(at, start, start + page - 1))
            if not ids:
                break
            raws = await self.redis.hmget(entries, ids)
            for raw in raws:
                if raw is None:
                    continue  # taken meanwhile
                entry = DlqEntry.model_validate_json(raw)
                if entry.matches(reason, contains):
                    out.append(entry)
                    if len(out) >= limit:
                        break
            start += page
        return out

    async def take(self, tenant: str, integration_id: str, entry: str) -> DlqEntry | None:
        """Remove an entry and return it, unless somebody else took it first."""
        entries, at = _keys(tenant, integration_id)
        raw = await self.redis.hget(entries, entry)
        if raw is None:
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(entries, entry)
            pipe.zrem(at, entry)
            removed, _ = await pipe.execute()
        return DlqEntry.model_validate_json(raw) if removed else None

    async def depth(self, tenant: str, integration_id: str) -> int:
        return int(await self.redis.zcard(_keys(tenant, integration_id)[1]))
