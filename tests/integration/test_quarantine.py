"""The quarantine on the real stack: what a stage cannot process (an undecodable record, a
stage failing on a record, a request the connector cannot build, a change too large to pass
on) is kept with its stage, error and original bytes, on `sync.quarantine` and in the index,
listed by the real `im`, and a retry after the fix sends it back through the stage where it
failed."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.runtime.kafka import make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, DeliveryCommand, FieldChange
from incident_sync.syncstate import keys
from incident_sync.syncstate.quarantine import ENTRY_HEADER, RETRY_HEADER
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

TOO_LONG = "INC" + "x" * 70_000  # a record id no URL can carry (httpx: at most 65,536)


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(extra_env={"GAUGES_S": "0.5"})


def produce(
    stack: Stack, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]] = ()
) -> None:
    """One record, as any producer could write it (a larger limit than the services')."""

    async def send() -> None:
        settings = Settings(KAFKA_BOOTSTRAP=stack.kafka_bootstrap, KAFKA_IDEMPOTENCE=False)
        producer = make_producer(settings, max_request_size=8_000_000)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=list(headers))
        finally:
            await producer.stop()

    asyncio.run(send())


def quarantined(stack: Stack, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = im(stack, "quarantine", "list", *args)["items"]
    return items


def one(stack: Stack, *args: str, what: str = "the entry") -> dict[str, Any]:
    (entry,) = wait_for(lambda: quarantined(stack, *args), 30, what)
    return entry


def topic_records(stack: Stack) -> list[dict[str, Any]]:
    """The entries on `sync.quarantine` (their metadata header), every partition."""

    async def read() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topics.QUARANTINE) or set()
            tps = [TopicPartition(topics.QUARANTINE, p) for p in parts]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            out: list[dict[str, Any]] = []
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        meta = dict(r.headers)[ENTRY_HEADER]
                        out.append({**orjson.loads(meta), "value": r.value, "key": r.key})
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def linked(tools: Tools, name: str) -> tuple[str, str]:
    incident = tools.declare(name, "summary")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    return incident["id"], records[0]["sys_id"]


def test_an_undecodable_record_is_quarantined_with_its_bytes_and_a_retry_re_enters_the_gate(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    garbage = b'{"delivery_id": "d-1", "kind": "no such kind"'
    key = b"default:prod-snow:INC0099"
    produce(stack, topics.OBSERVATIONS, garbage, key, [("integration-id", b"prod-snow")])
    entry = one(stack, "--stage", "gate", "--integration", "prod-snow")
    assert entry["error_type"] == "JSONDecodeError"
    assert entry["source_topic"] == topics.OBSERVATIONS and entry["offset"] is not None
    assert entry["retry_topic"] == topics.OBSERVATIONS
    assert entry["key_text"] == key.decode()
    shown = im(stack, "quarantine", "show", entry["id"])
    assert base64.b64decode(shown["value"]) == garbage
    # Durable on the topic before the index: the same entry, with the original bytes.
    (record,) = [r for r in topic_records(stack) if r["id"] == entry["id"]]
    assert record["value"] == garbage and record["key"] == key

    retried = im(stack, "quarantine", "retry", entry["id"])
    assert retried["retried"] == [entry["id"]]
    # Back through the gate, which still cannot read it: a new entry from a new offset.
    again = wait_for(
        lambda: [e for e in quarantined(stack, "--stage", "gate") if e["id"] != entry["id"]],
        30,
        "the retried record back at the gate",
    )
    (back,) = again
    assert back["offset"] != entry["offset"]
    shown = im(stack, "quarantine", "show", back["id"])
    assert base64.b64decode(shown["value"]) == garbage
    headers = {name: base64.b64decode(v) for name, v in shown["headers"]}
    assert headers[RETRY_HEADER] == entry["id"].encode()
    assert headers["integration-id"] == b"prod-snow"
    im(stack, "quarantine", "discard", back["id"], "--yes")
    assert quarantined(stack, "--stage", "gate") == []


def test_an_undecodable_record_on_sync_changes_is_the_tenants(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    produce(stack, topics.LINKED, b"\x00\x01 not json", topics.incident_key("default", "X"))
    entry = one(stack, "--stage", "arbiter", "--grep", "JSONDecodeError")
    assert entry["integration_id"] is None  # neither the key nor the bytes name one
    assert entry["retry_topic"] == topics.LINKED
    im(stack, "quarantine", "discard", entry["id"], "--yes")


def test_a_record_the_arbiter_fails_on_is_delivered_by_a_retry_after_the_fix(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, sys_id = linked(tools, "Arbiter failure")
    # The arbiter's standing changes of this incident are not a hash any more (a bug wrote
    # them so): reading them fails with WRONGTYPE, an error of the record, not an outage.
    fw = keys.field_writes("default", iid)
    r = redis.Redis.from_url(stack.redis_url)
    r.delete(fw)
    r.set(fw, "corrupt")
    tools.edit_incident(iid, name="Arbiter failure, renamed")
    entry = one(stack, "--stage", "arbiter", "--integration", "incidentio", what="quarantined")
    assert "WRONGTYPE" in entry["error"]
    assert tools.snow_record(sys_id)["short_description"] == "Arbiter failure"

    r.delete(fw)  # the fix
    r.close()
    im(stack, "quarantine", "retry", "--all", "--stage", "arbiter")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Arbiter failure, renamed",
        30,
        "the rename, delivered by the retry",
    )
    assert quarantined(stack, "--stage", "arbiter") == []


def test_a_refresh_the_connector_cannot_make_a_request_for_is_quarantined_at_the_gate(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    event = ChangeEvent(
        delivery_id="refresh-too-long",
        integration_id="incidentio",
        external_id=TOO_LONG,
        kind=ChangeKind.REFRESH,
    )
    produce(stack, topics.OBSERVATIONS, codec.encode(event), b"default:incidentio:long")
    entry = one(stack, "--stage", "gate", "--grep", "URL too long")
    assert entry["error_type"] == "RequestNotSent"  # the connector could not make it
    assert entry["integration_id"] == "incidentio"
    im(stack, "quarantine", "discard", entry["id"], "--yes")


def test_a_write_the_connector_cannot_make_a_request_for_is_quarantined_not_dead_lettered(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    # A ServiceNow change for an incident whose id no URL can carry (the ServiceNow
    # connector refuses such an id itself: a refusal, dead-lettered; incident.io's cannot
    # build the request).
    cmd = DeliveryCommand(
        causation_id="e-long",
        platform_incident_id=TOO_LONG,
        source_integration_id="prod-snow",
        target_integration_id="incidentio",
        target_external_id=TOO_LONG,
        set_fields={"title": "never written"},
    )
    produce(stack, topics.COMMANDS, codec.encode(cmd), b"default:incidentio:long")
    entry = one(stack, "--stage", "delivery", what="the quarantined write")
    # The DLQ's rule: a write to the platform is the integration's whose change it carries.
    assert entry["error_type"] == "RequestNotSent" and "URL too long" in entry["error"]
    assert entry["integration_id"] == "prod-snow"
    assert im(stack, "integration", "dlq", "prod-snow")["items"] == []
    im(stack, "quarantine", "discard", entry["id"], "--yes")


def test_a_change_too_large_to_pass_on_is_quarantined_and_its_partition_goes_on(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, sys_id = linked(tools, "Large change")
    # 600 kB fits sync.inbound; the gate's LinkedEvent carries it twice (the change and the
    # incident's state): more than the producer's 1 MB.
    huge = ChangeEvent(
        delivery_id="huge-1",
        integration_id="incidentio",
        external_id=iid,
        kind=ChangeKind.UPDATED,
        changes={"description": FieldChange(new="d" * 600_000)},
    )
    key = topics.record_key("default", "incidentio", iid)
    produce(stack, topics.OBSERVATIONS, codec.encode(huge), key)
    entry = one(stack, "--stage", "gate", "--grep", "MessageSizeTooLarge")
    assert entry["error_type"] == "MessageSizeTooLargeError"
    assert entry["size"] == len(codec.encode(huge))
    # The next change of that record (its partition) goes through.
    tools.edit_incident(iid, name="Large change, renamed")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Large change, renamed",
        30,
        "the change behind it",
    )
    # Still too large: a retry comes back (a new entry), it does not loop.
    im(stack, "quarantine", "retry", entry["id"])
    wait_for(
        lambda: [e for e in quarantined(stack, "--stage", "gate") if e["id"] != entry["id"]],
        30,
        "the retried change back in the quarantine",
    )


def test_the_quarantine_depth_and_count_are_exported(env: tuple[Stack, Tools]) -> None:
    stack, _ = env

    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }

    produce(stack, topics.OBSERVATIONS, b"nope", b"default:prod-snow:M1")
    one(stack, "--stage", "gate", "--integration", "prod-snow", "--grep", "JSONDecode")
    labels = (("integration", "prod-snow"), ("stage", "gate"))
    wait_for(lambda: samples().get(("incident_sync_quarantine_depth", labels)) == 1, 10)
    assert samples()[("incident_sync_quarantined_total", labels)] >= 1
