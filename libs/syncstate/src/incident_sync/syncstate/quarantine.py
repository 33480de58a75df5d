"""The quarantine: messages a stage could not process for a reason other than the broker or
Redis being away (an undecodable record, a bug, a value too large to produce, a request the
connector cannot build), each kept with its stage, the error and the original bytes.

Nothing a stage gives up on is acknowledged before it is here: the stage writes the entry to
`sync.quarantine` first (acks=all; the original value, key and headers, the entry's metadata
in the `quarantine-entry` header), then to this index, which operators work from (`im
quarantine`). Retrying an entry publishes its original bytes, key and headers to the topic the
stage reads (`retry_topic`), so the message re-enters the stage where it failed; discarding
gives it up. A stage writes a message's dedupe mark only once it handled it, so a quarantined
message was never marked and its retry is processed; if the same delivery was processed
meanwhile (a redelivery), the mark keeps it from being applied twice.

Keys: `is:{tenant}:quarantine` (hash entry id -> entry JSON), `...:at` (sorted set of entry ids
by the time they were quarantined) and `...:depth` (hash `stage|integration` -> entries, the
gauge `incident_sync_quarantine_depth`; `-` for entries no integration could be told for).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import cast

import orjson
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from incident_sync.syncmodel import topics
from incident_sync.syncmodel.events import utcnow
from incident_sync.syncstate import keys

ENTRY_PATTERN = r"^qr-[0-9a-f]{16}$"
UNKNOWN = "-"  # the integration label of entries no integration could be told for
ERROR_MAX = 2000  # characters of the error message kept
ENTRY_HEADER = "quarantine-entry"  # on sync.quarantine: the entry without its value (JSON)
VALUE_HEADER = "quarantine-value"  # on sync.quarantine: why the value is not in the record
RETRY_HEADER = "quarantine-retry"  # on a retried message: the entry it came from

# The producers' errors about the record itself (not an outage): retrying cannot help.
TOO_LARGE: tuple[type[BaseException], ...] = (MessageSizeTooLargeError, RecordListTooLargeError)


class Stage(StrEnum):
    GATE = "gate"
    ARBITER = "arbiter"
    DELIVERY = "delivery"
    RELAY = "relay"  # the retry relay: sync.retry.<n> -> sync.outbound
    RECONCILER = "reconciler"  # its corrective changes and polled snapshots -> sync.inbound


# The topic each stage reads, where a retry puts the message back (the relay reads several:
# the entry names the one its message came from).
INPUT: dict[Stage, str] = {
    Stage.GATE: topics.OBSERVATIONS,
    Stage.ARBITER: topics.LINKED,
    Stage.DELIVERY: topics.COMMANDS,
    Stage.RECONCILER: topics.OBSERVATIONS,
}


def _size_error(exc: BaseException | None) -> BaseException | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, TOO_LARGE):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__
    return None


def too_large(exc: BaseException | None) -> bool:
    """The record is larger than the producer or the broker takes, however wrapped (faust
    wraps the producer's errors in its ProducerSendError)."""
    return _size_error(exc) is not None


@dataclass(frozen=True)
class Message:
    """A record as a stage read it (or, for the reconciler, as it meant to publish it)."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def entry_id(stage: Stage, message: Message) -> str:
    """Stable per message: a record read again (a redelivery) takes its old place; one that
    was never read (the reconciler's) is named by its delivery id (a record polled again is
    the same snapshot), else by its bytes."""
    if message.offset is not None:
        where = f"{message.topic}/{message.partition}/{message.offset}/{message.timestamp_ms}"
        seed = where.encode()
    else:
        delivery = next((v for k, v in message.headers if k == "delivery-id"), message.value)
        seed = b"\0".join((stage.value.encode(), message.key or b"", delivery))
    return "qr-" + hashlib.blake2b(seed, digest_size=8).hexdigest()


def attribute(message: Message, sides: Collection[str], platform_id: str) -> str | None:
    """Whose message it is, as far as it tells: the value's integration (a command's owner as
    the DLQ's: the target, or for a write to the platform the source), else the
    `integration-id` header, else the key's `tenant:integration:...`. Only a side of the
    config counts (None: the tenant's, no integration in particular)."""
    candidates: list[str] = []
    try:
        data = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        target, source = data.get("target_integration_id"), data.get("source_integration_id")
        if isinstance(target, str):
            candidates.append(
                source if target == platform_id and isinstance(source, str) else target
            )
        event = data.get("event")
        if isinstance(event, dict) and isinstance(event.get("integration_id"), str):
            candidates.append(event["integration_id"])
        if isinstance(data.get("integration_id"), str):
            candidates.append(data["integration_id"])
    for name, value in message.headers:
        if name == "integration-id" and (text := _text(value)) is not None:
            candidates.append(text)
    parts = (_text(message.key) or "").split(":")
    if len(parts) >= 3:
        candidates.append(parts[1])
    return next((c for c in candidates if c in sides), None)


class QuarantinedMessage(BaseModel):
    """An entry without its bytes (what lists show)."""

    id: str
    tenant: str
    integration_id: str | None = Field(
        description="whose message it is; null when it does not tell (the tenant's)"
    )
    stage: Stage
    error_type: str = Field(description="the exception's class, e.g. ValidationError")
    error: str = Field(description="its message (the first 2,000 characters)")
    retry_topic: str = Field(description="where a retry publishes it: the stage's input")
    source_topic: str | None = Field(description="where it was read (null: never published)")
    partition: int | None = None
    offset: int | None = None
    key: str | None = Field(None, description="the record's key, base64")
    key_text: str | None = Field(None, description="the key as text, when it is UTF-8")
    headers: list[tuple[str, str]] = Field(
        default_factory=list, description="the record's headers, values base64"
    )
    size: int = Field(description="bytes of the value")
    quarantined_at: datetime = Field(default_factory=utcnow)

    def matches(
        self,
        integration: str | None = None,
        stage: Stage | None = None,
        contains: str | None = None,
        before: datetime | None = None,
    ) -> bool:
        if integration is not None and self.integration_id != integration:
            return False
        if stage is not None and self.stage is not stage:
            return False
        if before is not None and self.quarantined_at >= before:
            return False
        text = f"{self.error_type}: {self.error}".lower()
        return contains is None or contains.lower() in text


class QuarantineEntry(QuarantinedMessage):
    value: str = Field(description="the original bytes, base64")

    @classmethod
    def of(
        cls,
        stage: Stage,
        message: Message,
        error: BaseException,
        *,
        tenant: str,
        integration_id: str | None,
        retry_topic: str | None = None,
    ) -> QuarantineEntry:
        read = message.offset is not None
        error = _size_error(error) or error  # the producer's own error, not faust's wrapper
        return cls(
            id=entry_id(stage, message),
            tenant=tenant,
            integration_id=integration_id,
            stage=stage,
            error_type=type(error).__name__,
            error=(str(error) or repr(error))[:ERROR_MAX],
            retry_topic=retry_topic or INPUT.get(stage, message.topic),
            source_topic=message.topic if read else None,
            partition=message.partition if read else None,
            offset=message.offset,
            key=_b64(message.key) if message.key is not None else None,
            key_text=_text(message.key),
            headers=[(name, _b64(value or b"")) for name, value in message.headers],
            size=len(message.value),
            value=_b64(message.value),
        )

    @property
    def bucket(self) -> str:
        """The depth's field: `stage|integration`."""
        return f"{self.stage.value}|{self.integration_id or UNKNOWN}"

    def original(self) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
        """The key, value and headers as the stage read them."""
        key = base64.b64decode(self.key) if self.key is not None else None
        headers = [(name, base64.b64decode(value)) for name, value in self.headers]
        return key, base64.b64decode(self.value), headers

    def summary(self) -> QuarantinedMessage:
        return QuarantinedMessage.model_validate(self.model_dump(exclude={"value"}))


def retry_record(entry: QuarantineEntry) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """What a retry publishes on `entry.retry_topic`: the original bytes, key and headers,
    plus `quarantine-retry` naming the entry (the stages ignore it; it leaves a trail)."""
    key, value, headers = entry.original()
    headers = [h for h in headers if h[0] != RETRY_HEADER]
    return key, value, [*headers, (RETRY_HEADER, entry.id.encode())]


# (topic, key, value, headers) -> durable once awaited (acks=all)
Publish = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]]], Awaitable[None]]


async def publish_entry(entry: QuarantineEntry, publish: Publish) -> None:
    """`sync.quarantine`: the original value, key and headers plus the entry's metadata. A
    value too large for the topic (the reconciler's own record was refused for its size, or
    the topic takes less than the stage's input) goes without it: the index keeps it."""
    key, value, headers = entry.original()
    meta = (ENTRY_HEADER, entry.summary().model_dump_json().encode())
    record_key = key if key is not None else entry.id.encode()
    try:
        await publish(topics.QUARANTINE, record_key, value, [*headers, meta])
    except Exception as exc:
        if not too_large(exc):
            raise
        omitted = (VALUE_HEADER, b"omitted: too large for the topic; kept in the index")
        await publish(topics.QUARANTINE, record_key, b"", [meta, omitted])


# Adds an entry once (a message quarantined again takes its old place, counted once).
_ADD = """
local new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if new == 1 then
  redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
end
return new
"""
# Takes an entry out unless somebody else took it first.
_TAKE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[2], -1)
return 1
"""


def _keys(tenant: str) -> tuple[str, str, str]:
    return keys.quarantine(tenant), keys.quarantine_at(tenant), keys.quarantine_depth(tenant)


class QuarantineIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, entry: QuarantineEntry) -> None:
        keys = _keys(entry.tenant)
        at = entry.quarantined_at.timestamp()
        args = (entry.id, entry.model_dump_json(), at, entry.bucket)
        await self.redis.eval(_ADD, len(keys), *keys, *args)

    async def get(self, tenant: str, entry: str) -> QuarantineEntry | None:
        raw = await self.redis.hget(_keys(tenant)[0], entry)
        return QuarantineEntry.model_validate_json(raw) if raw is not None else None

    async def list(
        self,
        tenant: str,
        *,
        integration: str | None = None,
        stage: Stage | None = None,
        contains: str | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[QuarantineEntry]:
        """Newest first."""
        entries, at, _ = _keys(tenant)
        out: list[QuarantineEntry] = []
        start, page = 0, 200
        while len(out) < limit:
            ids = cast(list[bytes], await self.redis.zrevrange(at, start, start + page - 1))
            if not ids:
                break
            for raw in await self.redis.hmget(entries, ids):
                if raw is None:
                    continue  # taken meanwhile
                entry = QuarantineEntry.model_validate_json(raw)
                if entry.matches(integration, stage, contains, before):
                    out.append(entry)
                    if len(out) >= limit:
                        break
            start += page
        return out

    async def take(self, tenant: str, entry: str) -> QuarantineEntry | None:
        """Remove an entry and return it, unless somebody else took it first."""
        found = await self.get(tenant, entry)
        if found is None:
            return None
        keys = _keys(tenant)
        taken = await cast(
            Awaitable[int], self.redis.eval(_TAKE, len(keys), *keys, entry, found.bucket)
        )
        return found if taken else None

    async def depth(self, tenant: str) -> int:
        return int(await self.redis.zcard(_keys(tenant)[1]))

    async def depths(self, tenant: str) -> dict[tuple[str, str], int]:
        """(stage, integration) -> entries, zeros included (a gauge goes back to 0)."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(_keys(tenant)[2]))
        out: dict[tuple[str, str], int] = {}
        for bucket, count in raw.items():
            stage, _, integration = bucket.decode().partition("|")
            out[(stage, integration)] = max(0, int(count))
        return out
