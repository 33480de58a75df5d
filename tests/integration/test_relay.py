"""The retry relay on a real broker: a delayed record goes back to sync.outbound no sooner than
it is due, its partition is paused meanwhile (the poll loop goes on: nothing sleeps), and the
offset is committed once the record is on sync.outbound; a record sync.outbound refuses goes
to the quarantine, and one whose due time does not read goes at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from incident_sync.devstack import processes
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.outbound.stages.delivery.ladder import NOT_BEFORE
from incident_sync.outbound.stages.relay.relay import RetryRelay
from incident_sync.runtime.kafka import ensure_topics, make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics
from incident_sync.syncstate.quarantine import too_large

pytestmark = pytest.mark.integration

DELAYED = "sync.retry.1"


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    child = processes.broker().start()
    try:
        yield f"127.0.0.1:{child.port}"
    finally:
        child.stop()


async def test_a_delayed_record_is_relayed_when_due_with_its_partition_paused_until_then(
    broker: str,
) -> None:
    settings = Settings(
        KAFKA_BOOTSTRAP=broker,
        KAFKA_IDEMPOTENCE=False,
        KAFKA_TOPIC_PARTITIONS=1,
        KAFKA_SESSION_TIMEOUT_S=6,
    )
    await ensure_topics(settings, [DELAYED, topics.COMMANDS])
    relay = RetryRelay(settings, DeliverySettings(RETRY_CONSUMER_GROUP="relay-test"), (DELAYED,))
    await relay.start()
    running = asyncio.create_task(relay.run())
    tp = TopicPartition(DELAYED, 0)
    deadline = time.monotonic() + 30
    while tp not in relay.assigned:
        assert time.monotonic() < deadline, "the relay never got its partition"
        await asyncio.sleep(0.05)

    producer = make_producer(settings)
    await producer.start()
    now = time.time()
    due = {b"a": now + 1.0, b"b": now + 1.0, b"c": now + 2.0}
    for value, at in due.items():
        header = (NOT_BEFORE, str(int(at * 1000)).encode())
        await producer.send_and_wait(DELAYED, value=value, key=b"k", headers=[header])
    await producer.stop()

    out = AIOKafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    await out.start()
    out.assign([TopicPartition(topics.COMMANDS, 0)])
    arrived: dict[bytes, float] = {}
    saw_paused = False
    deadline = time.monotonic() + 30
    while len(arrived) < 3:
        assert time.monotonic() < deadline, f"relayed only {sorted(arrived)}"
        saw_paused = saw_paused or tp in relay.paused()
        batch = await out.getmany(timeout_ms=50)
        for records in batch.values():
            for record in records:
                assert record.value is not None
                arrived[record.value] = time.time()
    await out.stop()
    for value, at in due.items():
        assert arrived[value] >= at, f"{value!r} went {at - arrived[value]:.3f}s early"
        assert arrived[value] <= at + 2.0
    assert saw_paused, "the partition was never paused while its head waited"
    # The relay commits after the broker acknowledged the publish, so the last record can
    # be read here a moment before its offset is committed.
    deadline = time.monotonic() + 10
    while relay.committed.get(tp) != 3:
        assert time.monotonic() < deadline, f"committed {relay.committed.get(tp)} of 3"
        await asyncio.sleep(0.02)
    assert relay.relayed == 3 and relay.committed[tp] == 3
    await relay.stop()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def test_a_record_sync_outbound_refuses_is_quarantined_and_the_others_go_on(
    broker: str,
) -> None:
    """One too large for the relay's producer goes to the quarantine (and is committed past,
    so the partition goes on); one whose due time does not read is due now."""
    settings = Settings(
        KAFKA_BOOTSTRAP=broker,
        KAFKA_IDEMPOTENCE=False,
        KAFKA_TOPIC_PARTITIONS=1,
        KAFKA_SESSION_TIMEOUT_S=6,
    )
    delayed = "sync.retry.2"
    await ensure_topics(settings, [delayed, topics.COMMANDS])
    kept: list[tuple[int, BaseException]] = []

    async def quarantine(record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
        kept.append((record.offset, error))

    relay = RetryRelay(
        settings,
        DeliverySettings(RETRY_CONSUMER_GROUP="relay-quarantine-test"),
        (delayed,),
        quarantine=quarantine,
    )
    await relay.start()
    running = asyncio.create_task(relay.run())
    tp = TopicPartition(delayed, 0)
    deadline = time.monotonic() + 30
    while tp not in relay.assigned:
        assert time.monotonic() < deadline, "the relay never got its partition"
        await asyncio.sleep(0.05)

    producer = make_producer(settings, max_request_size=8_000_000)  # the relay's takes 1 MB
    await producer.start()
    await producer.send_and_wait(
        delayed, value=b"unreadable due time", key=b"q", headers=[(NOT_BEFORE, b"soon")]
    )
    await producer.send_and_wait(delayed, value=b"x" * 2_000_000, key=b"q")
    await producer.send_and_wait(delayed, value=b'["not a command"]', key=b"q")
    await producer.stop()

    deadline = time.monotonic() + 30
    while relay.committed.get(tp) != 3:
        assert not running.done(), running
        assert time.monotonic() < deadline, f"committed {relay.committed.get(tp)} of 3"
        await asyncio.sleep(0.02)
    assert [offset for offset, _ in kept] == [1]
    assert too_large(kept[0][1])
    assert relay.relayed == 3

    out = AIOKafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    await out.start()
    out.assign([TopicPartition(topics.COMMANDS, 0)])
    end = (await out.end_offsets([TopicPartition(topics.COMMANDS, 0)]))[
        TopicPartition(topics.COMMANDS, 0)
    ]
    values = []
    while await out.position(TopicPartition(topics.COMMANDS, 0)) < end:
        for records in (await out.getmany(timeout_ms=200)).values():
            values += [r.value for r in records]
    await out.stop()
    assert b"unreadable due time" in values and b'["not a command"]' in values
    assert b"x" * 2_000_000 not in values
    await relay.stop()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
