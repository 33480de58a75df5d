"""The retry ladder's delayed topics, consumed with plain aiokafka (faust cannot pause a
partition until a time, nor commit by hand).

Each `sync.retry.<n>` partition is read in order. When the record at its head is not due yet
(`not-before` header, else the command's `not_before`), the partition is paused and nothing
sleeps: the poll loop keeps polling the other partitions with a timeout no longer than the
time until the earliest head is due. A due record goes back to `sync.outbound` under its own
key (acks=all; a change the gate put off, to `sync.inbound`), and only then is its offset
committed. A crash in between publishes it twice:
the copies carry the same hop, and delivery's dedupe keeps one. A record whose due time cannot
be read is due now (the delivery quarantines what it cannot decode); one `sync.outbound`
refuses (too large) goes to the quarantine, and the relay goes on with the next. While the
broker is away nothing leaves the buffer: the records are sent again once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from incident_sync.outbound.durable import infrastructure
from incident_sync.outbound.metrics import RETRY_DEPTH
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.outbound.stages.delivery.ladder import NOT_BEFORE
from incident_sync.outbound.stages.gate.reread import RETRY_TO
from incident_sync.runtime import tracing
from incident_sync.runtime.kafka import fetch_options, make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics

log = logging.getLogger(__name__)

MAX_POLL_S = 0.5  # poll at least this often (stop requests, newly due heads)
# A record the relay cannot send for a reason of its own, and why -> durable in the quarantine.
Quarantine = Callable[[ConsumerRecord[bytes, bytes], BaseException], Awaitable[object]]


def due_at(record: ConsumerRecord[bytes, bytes]) -> float:
    """When a delayed record may go (unix time); 0 = now, also when neither the header nor
    the command says so in a form that reads."""
    for name, value in record.headers or ():
        if name == NOT_BEFORE:
            try:
                return int(value) / 1000
            except (ValueError, OverflowError):
                break  # then the command's own not_before
    try:
        data = orjson.loads(record.value or b"{}")
        raw = data.get("not_before") if isinstance(data, dict) else None
        return datetime.fromisoformat(raw).timestamp() if isinstance(raw, str) else 0.0
    except (ValueError, OverflowError, OSError):  # orjson's JSONDecodeError is a ValueError
        return 0.0


def destination(record: ConsumerRecord[bytes, bytes]) -> str:
    """Where a due record goes: `sync.outbound` (a delivery command), or `sync.inbound` for
    a change whose re-read the gate put off (`retry-to` header, `outbound.stages.gate.reread`)."""
    for name, value in record.headers or ():
        if name == RETRY_TO and value == topics.OBSERVATIONS.encode():
            return topics.OBSERVATIONS
    return topics.COMMANDS


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records fetched from a partition this worker loses are the new owner's to send."""

    def __init__(self, relay: RetryRelay) -> None:
        self.relay = relay

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            self.relay.buffers.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass


class RetryRelay:
    def __init__(
        self,
        settings: Settings,
        delivery: DeliverySettings,
        delayed: tuple[str, ...],
        clock: Callable[[], float] = time.time,
        quarantine: Quarantine | None = None,
    ) -> None:
        self.settings = settings
        self.delivery = delivery
        self.delayed = delayed
        self.clock = clock
        self.quarantine = quarantine
        self.buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.relayed = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None
        self._stopping = asyncio.Event()

    def paused(self) -> set[TopicPartition]:
        return set(self._consumer.paused()) if self._consumer is not None else set()

    @property
    def assigned(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.delayed,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.delivery.retry_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(self.settings.kafka_session_timeout_s * 1000),
            heartbeat_interval_ms=1000,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            max_poll_interval_ms=300_000,
            **fetch_options(self.settings),  # a record up to KAFKA_MAX_MESSAGE_BYTES
        )
        consumer.subscribe(list(self.delayed), listener=_Forget(self))
        producer = make_producer(self.settings)
        await producer.start()
        try:
            await consumer.start()
        except BaseException:
            await producer.stop()
            raise
        self._consumer, self._producer = consumer, producer

    async def close(self) -> None:
        """Close the clients (a restart after an error starts new ones)."""
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        self.buffers.clear()
        if consumer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()

    async def stop(self) -> None:
        self._stopping.set()
        await self.close()

    async def run(self) -> None:
        """Poll, buffer, release what is due; until `stop()`."""
        while not self._stopping.is_set() and self._consumer is not None:
            try:
                assert self._consumer is not None
                batch = await self._consumer.getmany(
                    timeout_ms=int(self._poll_timeout() * 1000), max_records=500
                )
                for tp, records in batch.items():
                    if tp in self.assigned:
                        self.buffers.setdefault(tp, deque()).extend(records)
                await self._release_due()
            except KafkaError as exc:
                # The broker is away or a rebalance is running: what was not committed is
                # sent again later (the copies carry the same hop).
                log.warning("retry relay: %s", exc.__class__.__name__, extra={"error": repr(exc)})
                await asyncio.sleep(0.5)

    def _poll_timeout(self) -> float:
        now = self.clock()
        heads = [due_at(buf[0]) for buf in self.buffers.values() if buf]
        if not heads:
            return MAX_POLL_S
        return min(MAX_POLL_S, max(0.005, min(heads) - now))

    async def _release_due(self) -> None:
        consumer = self._consumer
        if consumer is None or self._producer is None:
            return  # closed meanwhile
        now = self.clock()
        for tp, buf in list(self.buffers.items()):
            due = []
            for record in buf:
                if due_at(record) > now:
                    break
                due.append(record)
            if due:
                done, outage = await self._relay(due)
                for _ in range(done):
                    buf.popleft()
                if done:
                    try:
                        await consumer.commit({tp: due[done - 1].offset + 1})
                        self.committed[tp] = due[done - 1].offset + 1
                    except CommitFailedError:
                        log.warning(
                            "retry relay: commit refused (rebalance)", extra={"tp": str(tp)}
                        )
                    self.relayed += done
                if outage is not None:
                    raise outage  # the rest stays buffered: sent again once it is back
            if tp not in self.assigned:
                continue
            if buf and tp not in consumer.paused():
                consumer.pause(tp)  # its head is not due: fetch nothing more from it
            elif not buf and tp in consumer.paused():
                consumer.resume(tp)

    async def _relay(
        self, records: list[ConsumerRecord[bytes, bytes]]
    ) -> tuple[int, BaseException | None]:
        """Send due records in order to `sync.outbound`; how many from the first are done
        (on sync.outbound, or quarantined), and the outage that stopped the rest."""
        sent: list[asyncio.Future[Any] | BaseException] = []
        spans: list[tracing.Relayed] = []
        for record in records:
            to = destination(record)
            relayed = tracing.Relayed(
                tracing.Consumed.of(record, self.delivery.retry_group), to, "relay"
            )
            spans.append(relayed)
            try:
                sent.append(
                    await self._producer.send(
                        to, key=record.key, value=record.value, headers=relayed.headers
                    )
                )
            except Exception as exc:  # noqa: BLE001 - sorted by infrastructure() below
                sent.append(exc)
                if infrastructure(exc):
                    break
        try:
            return await self._settle(records, sent, spans)
        finally:
            for relayed in spans:
                relayed.end()  # those an outage stopped (no-op for the others)

    async def _settle(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        sent: list[asyncio.Future[Any] | BaseException],
        spans: list[tracing.Relayed],
    ) -> tuple[int, BaseException | None]:
        done = 0
        for record, outcome, relayed in zip(records, sent, spans, strict=True):
            error: BaseException | None = None
            if isinstance(outcome, BaseException):
                error = outcome
            else:
                try:
                    await outcome  # acks=all: durable on sync.outbound
                except Exception as exc:  # noqa: BLE001 - sorted by infrastructure() below
                    error = exc
            relayed.end(error)
            if error is not None:
                if infrastructure(error) or self.quarantine is None:
                    return done, error
                await self.quarantine(record, error)
            done += 1
        return done, None

    async def depth(self) -> None:
        """incident_sync_retry_depth for this worker's partitions."""
        if self._consumer is None:
            return
        mine = sorted(self.assigned)
        if not mine:
            return
        ends = await self._consumer.end_offsets(mine)
        for tp in mine:
            committed = self.committed.get(tp)
            if committed is None:
                committed = await self._consumer.committed(tp) or 0
                self.committed[tp] = committed
            RETRY_DEPTH.labels(tp.topic, str(tp.partition)).set(max(0, ends[tp] - committed))
