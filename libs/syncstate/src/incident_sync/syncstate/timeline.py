"""Every decision the pipeline makes about one incident, kept briefly: the incident's timeline.

Per tenant and platform incident one Redis stream, `is:{t}:timeline:{incident}`
(`keys.timeline`). Each entry is one decision (`Entry`: its kind, the side or sides, the
fields where it is per field, the rule or reason, the trace id, a few details such as the
tool's id, the HTTP status and the duration); its time is the stream id's, Redis's clock, so
entries of every process (gate, arbiter, delivery, reconciler, control API) are in the order
Redis took them. Bounded two ways: at most `cap` entries per incident (each add trims the
oldest, exactly), and `retention_s` (each add renews the key's TTL, so a quiet incident's
timeline goes; a read leaves out entries older than the retention).

Cheap: `q_add` queues the entry on a pipeline the caller sends anyway (one XADD and one
EXPIRE). Never a secret nor a payload: a value in `detail` is cut to `DETAIL_MAX` characters,
and the callers record ids, statuses, rules and field names, not field values.

A reference people know (a ServiceNow number such as INC0010001) is no id the links name:
`q_reference` keeps it -> incident beside the timeline (`keys.timeline_ref`, the same TTL),
written where the pipeline learns it: a create, a passed change, an operator's link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.syncstate import keys

DEFAULT_CAP: Final = 500  # entries per incident
DEFAULT_RETENTION_S: Final = 7 * 24 * 3600
DETAIL_MAX: Final = 120  # characters of one detail value
FIELDS_MAX: Final = 32  # field names of one entry

Detail = str | int | float | bool | None


class Kind(StrEnum):
    """What was decided. `dropped`/`skipped` carry the rule (`Entry.rule`) that decided it."""

    RECEIVED = "received"  # the gate passed an observation (side, delivery id, fields)
    DROPPED = "dropped"  # duplicate, echo_*, stale, echo_or_noop, ... (the gate's guard)
    SKIPPED = "skipped"  # direction, ownership, trigger, mapping, detached, superseded
    CONFLICT_DETECTED = "conflict_detected"
    CONFLICT_PARKED = "conflict_parked"
    CONFLICT_RESOLVED = "conflict_resolved"  # rule: the resolution; detail: resolver
    PLANNED = "planned"  # the arbiter's writes (sides: the targets)
    WRITTEN = "written"  # tool id, HTTP status, duration
    CREATED = "created"
    DEFERRED = "deferred"
    HELD = "held"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
    QUARANTINED = "quarantined"
    HEALED = "healed"  # the reconciler's correction of one side
    LINKED = "linked"
    DECLARED = "declared"  # a tool's record declared the incident (its integration's rule)
    UNLINKED = "unlinked"


def cut(value: Detail, limit: int = DETAIL_MAX) -> Detail:
    """A detail as kept: text cut to `limit` characters (with an ellipsis)."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


@dataclass(frozen=True)
class Entry:
    """One decision. `at` and `id` are the stream's (set when read)."""

    kind: Kind
    sides: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    rule: str | None = None
    trace_id: str | None = None
    detail: Mapping[str, Detail] = field(default_factory=dict)
    at: datetime | None = None
    id: str | None = None

    def encode(self) -> bytes:
        data: dict[str, object] = {"k": self.kind.value}
        if self.sides:
            data["s"] = list(self.sides)
        if self.fields:
            data["f"] = sorted(self.fields)[:FIELDS_MAX]
        if self.rule is not None:
            data["r"] = cut(self.rule)
        if self.trace_id is not None:
            data["t"] = self.trace_id
        detail = {k: cut(v) for k, v in self.detail.items() if v is not None}
        if detail:
            data["d"] = detail
        return orjson.dumps(data)

    @classmethod
    def decode(cls, stream_id: str, raw: bytes) -> Entry:
        data = orjson.loads(raw)
        millis = int(stream_id.split("-", 1)[0])
        try:
            kind = Kind(data.get("k"))
        except ValueError:
            kind = Kind.SKIPPED  # written by a newer version: shown, not lost
        return cls(
            kind=kind,
            sides=tuple(data.get("s", ())),
            fields=tuple(data.get("f", ())),
            rule=data.get("r"),
            trace_id=data.get("t"),
            detail=dict(data.get("d", {})),
            at=datetime.fromtimestamp(millis / 1000, UTC),
            id=stream_id,
        )


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Timeline:
    """The incidents' timelines of one Redis (one per process; the settings are its bounds)."""

    def __init__(
        self, redis: Redis, cap: int = DEFAULT_CAP, retention_s: int = DEFAULT_RETENTION_S
    ) -> None:
        if cap < 1 or retention_s < 1:
            raise ValueError("a timeline needs a cap and a retention of at least 1")
        self.redis = redis
        self.cap = cap
        self.retention_s = retention_s

    def q_add(self, pipe: Pipeline, tenant: str, incident: str, *entries: Entry) -> None:
        """Queue the entries (in order) on a pipeline the caller sends."""
        if not entries:
            return
        key = keys.timeline(tenant, incident)
        for entry in entries:
            pipe.xadd(key, {"e": entry.encode()}, maxlen=self.cap, approximate=False)
        pipe.expire(key, self.retention_s)

    def q_reference(self, pipe: Pipeline, tenant: str, reference: str, incident: str) -> None:
        """Queue: the reference people know (INC0010001) names this incident."""
        pipe.set(keys.timeline_ref(tenant, reference), incident, ex=self.retention_s)

    async def add(self, tenant: str, incident: str, *entries: Entry) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            self.q_add(pipe, tenant, incident, *entries)
            await pipe.execute()

    async def read(
        self, tenant: str, incident: str, *, limit: int | None = None, now: float | None = None
    ) -> list[Entry]:
        """The incident's entries within the retention, oldest first (the newest `limit`)."""
        key = keys.timeline(tenant, incident)
        clock = (now if now is not None else datetime.now(UTC).timestamp()) * 1000
        oldest = max(0, int(clock) - self.retention_s * 1000)
        rows: list[Any]
        if limit is None:
            rows = list(await self.redis.xrange(key, min=f"{oldest}-0", max="+") or [])
        else:
            newest = await self.redis.xrevrange(key, "+", f"{oldest}-0", limit) or []
            rows = list(reversed(newest))
        out = []
        for stream_id, values in rows:
            raw = (values or {}).get(b"e")
            if stream_id is not None and isinstance(raw, bytes):
                out.append(Entry.decode(_s(stream_id), raw))
        return out

    async def exists(self, tenant: str, incident: str) -> bool:
        return bool(await self.redis.exists(keys.timeline(tenant, incident)))

    async def incident_of_reference(self, tenant: str, reference: str) -> str | None:
        raw = await self.redis.get(keys.timeline_ref(tenant, reference))
        return _s(raw) if raw is not None else None
