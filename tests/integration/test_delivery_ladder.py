"""The delivery path end to end on the real parts (broker, redis-server, sandboxes with API
fault injection, the services as child processes, the real `im`), with the retry ladder's
delays scaled down: dead-lettering after exactly the ladder's attempts and `dlq-retry`, a
429's Retry-After honoured for every write to that tool, pause / resume in order, and a burst
of edits coalesced while a write is pending, and a slow write holding back its own partition
only, with nothing behind it committed before it is done (not even across a SIGKILL). The
worker's metrics are checked against what happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel import topics
from incident_sync.syncstate import keys
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

DELAYS = (0.8, 1.2, 1.6, 2.0)  # the ladder, scaled down (production: 30 s, 2, 8, 30 min)
JITTER = 0.2
ENV = {
    "RETRY_DELAYS_S": ",".join(str(d) for d in DELAYS),
    "RETRY_JITTER": str(JITTER),
    "BREAKER_OPEN_S": "1",
    "HOLD_CHECK_S": "0.2",
    "GAUGES_S": "0.5",
    "KAFKA_SESSION_TIMEOUT_S": "3",  # a killed worker's partitions move on sooner
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(extra_env=ENV)


def linked(tools: Tools, name: str) -> tuple[str, str]:
    incident = tools.declare(name, "summary")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]["sys_id"]


def writes_to(tools: Tools, sys_id: str) -> list[dict[str, Any]]:
    """The API writes the ServiceNow sandbox answered for one record, faults included."""
    return [
        r
        for r in tools.api_requests("servicenow")
        if sys_id in r["path"] and r["method"] in ("PATCH", "PUT")
    ]


def worker_metrics(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def metric(stack: Stack, name: str, **labels: str) -> float:
    return worker_metrics(stack).get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_write_that_always_fails_is_dead_lettered_after_the_ladder_and_retried_from_the_dlq(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, sys_id = linked(tools, "Disk full on db-7")
    tools.api_faults("servicenow", fail_status=500, fail_count=1000, path_contains=sys_id)
    tools.edit_incident(iid, name="Disk full on db-7 and db-8")

    def dead() -> list[dict[str, Any]]:
        entries = im(stack, "integration", "dlq", "prod-snow")["items"]
        return [e for e in entries if e["command"]["platform_incident_id"] == iid]

    (entry,) = wait_for(dead, 60, "the DLQ entry")
    attempts = writes_to(tools, sys_id)
    # Exactly the ladder: 1 + 4 retries, each refused, each after its delay (+-jitter).
    assert [r["status"] for r in attempts] == [500] * 5
    gaps = [b["t"] - a["t"] for a, b in pairwise(attempts)]
    for gap, delay in zip(gaps, DELAYS, strict=True):
        assert delay * (1 - JITTER) - 0.05 <= gap <= delay * (1 + JITTER) + 1.5, (gaps, DELAYS)
    assert entry["reason"] == "exhausted" and entry["attempts"] == 5
    assert "500" in entry["last_error"] and "injected fault" in entry["last_error"]
    assert entry["command"]["set_fields"]["title"] == "Disk full on db-7 and db-8"
    assert tools.snow_record(sys_id)["short_description"] == "Disk full on db-7"
    wait_for(lambda: metric(stack, "incident_sync_dlq_depth", integration="prod-snow") == 1, 10)
    assert metric(stack, "incident_sync_delivery_retries_total", integration="prod-snow") >= 4

    # The tool is healthy again: dlq-retry delivers it, and the DLQ is empty.
    tools.api_faults("servicenow")
    retried = im(stack, "integration", "dlq-retry", "prod-snow", entry["id"])
    assert retried["retried"] == [entry["id"]] and retried["remaining"] == 0
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Disk full on db-7 and db-8",
        30,
        "the retried write",
    )
    assert im(stack, "integration", "dlq", "prod-snow")["items"] == []
    wait_for(lambda: metric(stack, "incident_sync_dlq_depth", integration="prod-snow") == 0, 10)


def test_a_validation_error_is_dead_lettered_at_once_with_the_tools_message(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    refused = [linked(tools, f"Bad data {n}") for n in range(2)]
    for iid, sys_id in refused:
        tools.api_faults("servicenow", fail_status=400, fail_count=1, path_contains=sys_id)
        tools.edit_incident(iid, name=f"{iid} renamed")
        wait_for(lambda s=sys_id: writes_to(tools, s), 30, "the refused write")  # type: ignore[misc]
    tools.api_faults("servicenow")
    ours = {iid for iid, _ in refused}

    def dead() -> list[dict[str, Any]]:
        entries = im(stack, "integration", "dlq", "prod-snow", "--reason", "rejected")["items"]
        return [e for e in entries if e["command"]["platform_incident_id"] in ours]

    def both() -> list[dict[str, Any]] | None:
        found = dead()
        return found if len(found) == 2 else None

    entries = wait_for(both, 30, "both DLQ entries")
    for entry in entries:
        assert entry["attempts"] == 1  # refused: no retry
        assert "HTTP 400 (injected fault)" in entry["last_error"]  # ServiceNow's own words
    assert [len(writes_to(tools, s)) for _, s in refused] == [1, 1]
    # Discard one; retry every other rejected entry whose error matches (a dry run first).
    kept, dropped = entries
    assert im(stack, "integration", "dlq-discard", "prod-snow", dropped["id"], "--yes")["id"]
    plan = im(stack, "integration", "dlq-retry", "prod-snow", "--all", "--reason", "rejected",
              "--grep", "http 400", "--dry-run")  # fmt: skip
    assert plan["dry_run"] and plan["retried"] == [kept["id"]]
    assert [e["id"] for e in dead()] == [kept["id"]]  # a dry run changes nothing
    done = im(stack, "integration", "dlq-retry", "prod-snow", "--all", "--grep", "HTTP 400")
    assert done["retried"] == [kept["id"]] and dead() == []
    iid = kept["command"]["platform_incident_id"]
    sys_id = dict(refused)[iid]
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == f"{iid} renamed", 30)


def test_a_429_retry_after_holds_every_write_to_that_tool_until_the_stated_time(
    env: tuple[Stack, Tools],
) -> None:
    _, tools = env
    first_id, first_sys = linked(tools, "Throttled one")
    second_id, second_sys = linked(tools, "Throttled two")
    tools.api_faults("servicenow", fail_status=429, fail_count=1, retry_after_s=2)
    tools.edit_incident(first_id, name="Throttled one, renamed")
    (refused,) = wait_for(
        lambda: [r for r in tools.api_requests("servicenow") if r["status"] == 429], 30, "429"
    )
    tools.edit_incident(second_id, name="Throttled two, renamed")
    for sys_id, name in (
        (first_sys, "Throttled one, renamed"),
        (second_sys, "Throttled two, renamed"),
    ):
        wait_for(lambda s=sys_id, n=name: tools.snow_record(s)["short_description"] == n, 30)  # type: ignore[misc]
    after = [r for r in tools.api_requests("servicenow") if r["t"] > refused["t"]]
    assert after, "nothing was written after the 429"
    # No request of any kind to ServiceNow before the stated time.
    assert min(r["t"] for r in after) >= refused["t"] + 2.0
    tools.api_faults("servicenow")


def test_a_paused_integration_holds_its_changes_and_delivers_them_in_order_on_resume(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, sys_id = linked(tools, "Held back")
    held = redis.Redis.from_url(stack.redis_url)
    im(stack, "integration", "pause", "prod-snow")
    time.sleep(1.5)  # the worker reloads its config every 0.5 s
    before = tools.api_writes("servicenow", sys_id)
    for step in (
        {"name": "Held back 1"},
        {"update_message": "first note"},
        {"name": "Held back 2", "summary": "while paused"},
        {"update_message": "second note"},
    ):
        tools.edit_incident(iid, **step)
    wait_for(lambda: held.xlen(keys.held("default", "prod-snow")) >= 4, 30, "the held commands")
    time.sleep(1.0)
    assert tools.api_writes("servicenow", sys_id) == before  # nothing reached the tool
    assert tools.snow_record(sys_id)["short_description"] == "Held back"

    im(stack, "integration", "resume", "prod-snow")
    wait_for(
        lambda: (
            [n["value"] for n in tools.snow_record(sys_id).get("work_notes_entries", [])]
            == ["first note", "second note"]
        ),
        30,
        "both notes, in order",
    )
    tools.quiesce()
    record = tools.snow_record(sys_id)
    assert record["short_description"] == "Held back 2"
    assert record["description"] == "while paused"
    assert held.xlen(keys.held("default", "prod-snow")) == 0
    held.close()


def test_a_burst_of_edits_while_a_write_is_pending_becomes_one_write_of_the_latest_values(
    env: tuple[Stack, Tools],
) -> None:
    _, tools = env
    iid, sys_id = linked(tools, "Burst")
    tools.api_faults("servicenow", latency_s=1.0, path_contains=sys_id)  # a slow write
    for n in range(1, 11):
        tools.edit_incident(iid, name=f"Burst {n}")
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == "Burst 10", 30)
    tools.quiesce()
    tools.api_faults("servicenow")
    # At most the write in flight when the burst began, then one with the latest value (ten
    # without coalescing).
    assert 1 <= len(writes_to(tools, sys_id)) <= 2


def test_the_sync_counters_are_exported_as_metrics(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    status = im(stack, "integration", "sync-status", "prod-snow")["counters"]
    exported = worker_metrics(stack)
    for direction in ("outbound", "inbound"):
        for outcome in ("success", "failed"):
            value = exported.get(
                (
                    f"incident_sync_{direction}_total",
                    (("integration", "prod-snow"), ("outcome", outcome), ("type", "servicenow")),
                ),
                0.0,
            )
            assert value == status[f"{direction}_{outcome}"], (direction, outcome)
    assert status["outbound_success"] > 0 and status["outbound_failed"] >= 1
    assert metric(stack, "incident_sync_circuit_state", integration="prod-snow") == 0
    lags = [k for k in exported if k[0] == "incident_sync_consumer_lag"]
    assert {dict(k[1])["topic"] for k in lags} == {"sync.inbound", "sync.changes", "sync.outbound"}
    depths = [k for k in exported if k[0] == "incident_sync_retry_depth"]
    assert {dict(k[1])["topic"] for k in depths} <= {f"sync.retry.{n}" for n in range(1, 5)}
    assert depths, "the retry relay exports its partitions' depth"


def outbound_log(stack: Stack) -> list[tuple[int, int, bytes, bytes]]:
    """Every command on `sync.outbound` so far: (partition, offset, key, value)."""

    async def read() -> list[tuple[int, int, bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            await consumer.topics()
            parts = [
                TopicPartition(topics.COMMANDS, p)
                for p in sorted(consumer.partitions_for_topic(topics.COMMANDS) or ())
            ]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            out: list[tuple[int, int, bytes, bytes]] = []
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    out += [(tp.partition, m.offset, m.key or b"", m.value or b"") for m in batch]
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def committed(stack: Stack, partition: int) -> int:
    """The workers' committed offset on a partition of `sync.outbound` (-1: none)."""

    async def read() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            tp = TopicPartition(topics.COMMANDS, partition)
            offsets = await admin.list_consumer_group_offsets(
                "incident-sync-outbound", partitions=[tp]
            )
            found = offsets.get(tp)
            return found.offset if found is not None else -1
        finally:
            await admin.close()

    return asyncio.run(read())


def test_a_slow_write_holds_back_only_its_partition_and_nothing_behind_it_is_committed(
    env: tuple[Stack, Tools],
) -> None:
    """The delivery handles its partitions at once, each in order (`outbound.lanes`): while
    one write waits on a slow tool, a write in another partition lands; the command queued
    behind the slow one in its partition waits, its offset uncommitted, so a worker SIGKILLed
    then delivers it after the restart."""
    stack, tools = env
    records = [linked(tools, f"Lane {n}") for n in range(8)]
    for iid, sys_id in records:  # one update each: their partitions, as the producer chose
        tools.edit_incident(iid, name=f"Lane {sys_id}")
    for _, sys_id in records:
        wait_for(lambda s=sys_id: tools.snow_record(s)["short_description"] == f"Lane {s}", 30)  # type: ignore[misc]
    key_of = {sys_id: topics.target_key("default", "prod-snow", sys_id) for _, sys_id in records}
    partition_of = {k: p for p, _, k, _ in outbound_log(stack)}
    by_partition: dict[int, list[tuple[str, str]]] = {}
    for iid, sys_id in records:  # eight records over six partitions: two share one
        by_partition.setdefault(partition_of[key_of[sys_id]], []).append((iid, sys_id))
    (slow_id, slow), (behind_id, behind) = next(r for r in by_partition.values() if len(r) > 1)[:2]
    lane = partition_of[key_of[slow]]
    beside_id, beside = next(r[0] for p, r in by_partition.items() if p != lane)

    tools.api_faults("servicenow", latency_s=4.0, path_contains=slow)
    tools.edit_incident(slow_id, name="Lane slow")
    time.sleep(0.5)  # its write is waiting on the tool now
    tools.edit_incident(behind_id, name="Lane behind")
    tools.edit_incident(beside_id, name="Lane beside")
    wait_for(lambda: tools.snow_record(beside)["short_description"] == "Lane beside", 3.0)
    # The slow write is still pending, and the command behind it waits in its partition.
    assert tools.snow_record(slow)["short_description"] != "Lane slow"
    assert tools.snow_record(behind)["short_description"] != "Lane behind"
    queued = wait_for(
        lambda: [
            o for p, o, k, v in outbound_log(stack) if k == key_of[behind] and b"Lane behind" in v
        ],
        3.0,
        "the command behind the slow write",
    )
    slow_at = max(
        o for p, o, k, v in outbound_log(stack) if k == key_of[slow] and b"Lane slow" in v
    )
    time.sleep(1.0)  # a few commit intervals
    assert committed(stack, lane) <= slow_at < queued[0]
    assert tools.snow_record(slow)["short_description"] != "Lane slow"

    worker = stack.child("outbound")
    worker.kill()  # SIGKILL while the slow write waits: nothing is committed behind it
    worker.start()
    stack.wait_ready(90)
    tools.api_faults("servicenow")
    wait_for(lambda: tools.snow_record(behind)["short_description"] == "Lane behind", 60)
    wait_for(lambda: tools.snow_record(slow)["short_description"] == "Lane slow", 60)
    wait_for(lambda: committed(stack, lane) > queued[0], 30, "the partition committed")
