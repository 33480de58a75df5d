"""`syncstate.timeline` on a real redis-server: entries in the order Redis took them, at most
the cap per incident (the oldest go), the retention renewed by each add and applied by reads,
details cut short, and a reference kept beside the timeline."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.timeline import DETAIL_MAX, Entry, Kind, Timeline

pytestmark = pytest.mark.integration


def _tenant() -> str:
    return uuid.uuid4().hex[:12]


def test_entries_come_back_in_order_with_their_time_and_fields(redis_url: str) -> None:
    tenant = _tenant()

    async def scenario() -> list[Entry]:
        redis = connect(redis_url)
        try:
            timeline = Timeline(redis)
            await timeline.add(
                tenant,
                "INC-1",
                Entry(Kind.RECEIVED, ("incidentio",), ("title",), None, "ab" * 16, {"x": 1}),
            )
            async with redis.pipeline(transaction=False) as pipe:  # a stage's own round trip
                timeline.q_add(pipe, tenant, "INC-1", Entry(Kind.PLANNED, ("snow",), ("title",)))
                timeline.q_add(
                    pipe,
                    tenant,
                    "INC-1",
                    Entry(Kind.WRITTEN, ("snow",), detail={"status": 200, "gone": None}),
                )
                await pipe.execute()
            await timeline.add(tenant, "INC-2", Entry(Kind.RECEIVED, ("incidentio",)))
            return await timeline.read(tenant, "INC-1")
        finally:
            await redis.aclose()

    before = time.time()
    entries = asyncio.run(scenario())
    assert [e.kind for e in entries] == [Kind.RECEIVED, Kind.PLANNED, Kind.WRITTEN]
    first = entries[0]
    assert first.sides == ("incidentio",) and first.fields == ("title",)
    assert first.trace_id == "ab" * 16 and first.detail == {"x": 1}
    assert entries[2].detail == {"status": 200}  # a None detail is left out
    assert first.at is not None and abs(first.at.timestamp() - before) < 5
    ids = [e.id for e in entries]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in (i or "0-0").split("-")))


def test_the_cap_keeps_the_newest_entries_per_incident(redis_url: str) -> None:
    tenant = _tenant()

    async def scenario() -> tuple[list[Entry], list[Entry], int]:
        redis = connect(redis_url)
        try:
            timeline = Timeline(redis, cap=5)
            for n in range(12):
                await timeline.add(tenant, "INC-1", Entry(Kind.WRITTEN, detail={"n": n}))
            await timeline.add(tenant, "INC-2", Entry(Kind.WRITTEN, detail={"n": 0}))
            newest = await timeline.read(tenant, "INC-1", limit=2)
            length = await redis.xlen(keys.timeline(tenant, "INC-1"))
            return await timeline.read(tenant, "INC-1"), newest, length
        finally:
            await redis.aclose()

    kept, newest, length = asyncio.run(scenario())
    assert length == 5  # exactly the cap, not about it
    assert [e.detail["n"] for e in kept] == [7, 8, 9, 10, 11]
    assert [e.detail["n"] for e in newest] == [10, 11]


def test_retention_is_the_keys_ttl_and_reads_leave_older_entries_out(redis_url: str) -> None:
    tenant = _tenant()

    async def scenario() -> tuple[int, list[Entry], list[Entry], bool]:
        redis = connect(redis_url)
        try:
            timeline = Timeline(redis, retention_s=60)
            await timeline.add(tenant, "INC-1", Entry(Kind.RECEIVED))
            ttl = await redis.ttl(keys.timeline(tenant, "INC-1"))
            now = time.time()
            fresh = await timeline.read(tenant, "INC-1", now=now)
            later = await timeline.read(tenant, "INC-1", now=now + 61)  # past the retention
            short = Timeline(redis, retention_s=1)
            await short.add(tenant, "INC-9", Entry(Kind.RECEIVED))
            await asyncio.sleep(2.1)
            return ttl, fresh, later, await short.exists(tenant, "INC-9")
        finally:
            await redis.aclose()

    ttl, fresh, later, still_there = asyncio.run(scenario())
    assert 55 <= ttl <= 60
    assert len(fresh) == 1 and later == []
    assert not still_there  # a quiet incident's timeline goes


def test_details_are_cut_and_a_reference_names_its_incident(redis_url: str) -> None:
    tenant = _tenant()

    async def scenario() -> tuple[list[Entry], str | None, str | None]:
        redis = connect(redis_url)
        try:
            timeline = Timeline(redis)
            await timeline.add(
                tenant, "INC-1", Entry(Kind.DEAD_LETTERED, detail={"error": "x" * 999})
            )
            async with redis.pipeline(transaction=False) as pipe:
                timeline.q_reference(pipe, tenant, "INC0010001", "INC-1")
                await pipe.execute()
            return (
                await timeline.read(tenant, "INC-1"),
                await timeline.incident_of_reference(tenant, "INC0010001"),
                await timeline.incident_of_reference(tenant, "INC0010002"),
            )
        finally:
            await redis.aclose()

    entries, known, unknown = asyncio.run(scenario())
    error = entries[0].detail["error"]
    assert isinstance(error, str) and len(error) == DETAIL_MAX and error.endswith("…")
    assert (known, unknown) == ("INC-1", None)


def test_a_timeline_needs_bounds() -> None:
    with pytest.raises(ValueError, match="cap"):
        Timeline(None, cap=0)  # type: ignore[arg-type]
