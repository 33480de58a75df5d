"""The durable publish: a webhook is answered 202 only after the broker acknowledged it.

A small pool of aiokafka producers (acks=all, linger 0), each driven by a `Lane` (see
lanes.py: group commit, one batch in flight per partition). aiokafka keeps one produce request
in flight per broker connection and producer, so one producer serializes every request behind
the previous acknowledgement; several producers keep several requests in flight while each
still batches whatever arrived meanwhile. A partition always goes through the same producer,
so records of one key keep their order. Partitions are chosen as aiokafka's default
partitioner does (murmur2 of the key), so other producers of the topic agree.

Failure handling:
- every publish is bounded (`timeout_s`); past it the caller answers 503 + Retry-After. A
  message may still reach the broker later (aiokafka keeps retrying until its own request
  timeout): the sender's retry then makes a duplicate, which the gate dedupes by delivery id.
- the broker unreachable at start: producers are (re)started in the background until it
  answers; publishes fail fast with 503 meanwhile.
- a broker error other than a timeout (the memory test broker restarted and lost its topics,
  or metadata went stale): re-run `ensure_topics`, refresh metadata, and retry (at most
  RETRIES attempts, within the same timeout). After a restart the test broker auto-creates a
  topic on first use with its default partition count (4): the partition count is re-read
  then, so keys still map consistently from that point on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from incident_sync.ingress.lanes import Lane, LaneFull, key_hash
from incident_sync.runtime.kafka import ensure_topics, make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics

log = logging.getLogger("ingress.publisher")

# Attempts per publish when the broker answers with an error (not a timeout), all within the
# publish timeout.
RETRIES = 4

# key, value, headers
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


class PublishUnavailable(Exception):
    """The broker did not acknowledge in time; the caller should retry later."""


class Publisher:
    def __init__(
        self,
        settings: Settings,
        *,
        producers: Sequence[AIOKafkaProducer] | None = None,
        pool_size: int | None = None,
        timeout_s: float = 5.0,
        topic: str = topics.OBSERVATIONS,
        ensure: bool = True,
        start_wait_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_s = timeout_s
        self._ensure = ensure
        self._start_wait_s = start_wait_s
        # Producers handed in are the caller's to start and stop.
        self._owned = producers is None
        self._pool_size = max(1, pool_size if pool_size is not None else settings.producer_pool)
        self._producers: list[AIOKafkaProducer] = list(producers or [])
        self._lanes: list[Lane] = []
        self._partitions = 0
        self._ready = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None
        self._repair_task: asyncio.Task[None] | None = None
        self._last_repair = 0.0

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Connect (waiting up to `start_wait_s`); keep trying in the background after that."""
        if not self._owned:
            await self._use(self._producers)
            return
        self._starter = asyncio.create_task(self._start_loop(), name="ingress-producer-start")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ready_wait()), self._start_wait_s)
        if not self.ready:
            log.warning("broker not reachable yet; publishing will answer 503 until it is")

    async def _ready_wait(self) -> None:
        await self._ready.wait()

    async def _use(self, producers: list[AIOKafkaProducer]) -> None:
        self._producers = producers
        self._lanes = [Lane(p, self.topic, timeout_s=self.timeout_s) for p in producers]
        try:
            self._partitions = len(await producers[0].partitions_for(self.topic))
        except (KafkaError, OSError) as exc:
            log.warning("no metadata for %s yet (%s)", self.topic, type(exc).__name__)
        self._ready.set()

    async def _start_loop(self) -> None:
        delay = 0.2
        while True:
            started: list[AIOKafkaProducer] = []
            try:
                for _ in range(self._pool_size):
                    producer = make_producer(self.settings)
                    started.append(producer)  # stopped below even if start() fails
                    await producer.start()
                if self._ensure:
                    await ensure_topics(self.settings)
            except (KafkaError, OSError) as exc:
                for producer in started:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                log.info("broker not ready (%s); retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            await self._use(started)
            log.info("producers connected", extra={"pool": len(started)})
            return

    async def stop(self) -> None:
        """Flush what is pending and close (owned producers only)."""
        for task in (self._starter, self._repair_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for lane in self._lanes:
            await lane.drain(self.timeout_s)
            await lane.close()
        self._lanes = []
        if self._owned:
            for producer in self._producers:
                try:
                    await asyncio.wait_for(producer.stop(), self.timeout_s)
                except (TimeoutError, KafkaError, OSError) as exc:
                    log.warning("producer did not stop cleanly: %s", type(exc).__name__)
            self._producers = []

    # -- publishing --------------------------------------------------------------------
    async def publish(self, records: Sequence[Record]) -> None:
        """Return once the broker acknowledged every record; PublishUnavailable otherwise.

        The common case costs no timeout context of its own: the lanes fail a batch's
        waiters when its deadline passes. Only a broker error takes the slower repair path.
        """
        if not self._lanes or not self.ready:
            raise PublishUnavailable("not connected to the broker yet")
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            try:
                await self._send_all(records)
            except KafkaTimeoutError:
                raise
            except KafkaError as exc:
                async with asyncio.timeout_at(deadline):
                    await self._retry(records, exc)
        except (TimeoutError, KafkaTimeoutError):
            self._schedule_repair()
            raise PublishUnavailable(
                f"the broker did not acknowledge within {self.timeout_s:g}s"
            ) from None
        except LaneFull as exc:
            raise PublishUnavailable(f"the broker is not keeping up: {exc}") from None
        except (KafkaError, OSError) as exc:
            self._schedule_repair()
            reason = f"the broker refused the publish: {type(exc).__name__}"
            raise PublishUnavailable(reason) from exc

    async def _retry(self, records: Sequence[Record], first: KafkaError) -> None:
        """Topics lost (a memory broker restarted), stale metadata, or a broker still
        settling after a restart: repair, then retry (bounded)."""
        exc: KafkaError = first
        for attempt in range(1, RETRIES):
            log.warning("publish failed (%r); repairing topics, retrying", exc)
            await self._repair_once()
            await asyncio.sleep(0.25 * attempt)
            try:
                await self._send_all(records)
                return
            except KafkaTimeoutError:
                raise
            except KafkaError as again:
                exc = again
        raise exc

    async def _partition_count(self) -> int:
        cluster = self._producers[0].client.cluster
        count = len(cluster.partitions_for_topic(self.topic) or ())
        if count == 0:  # unknown topic: wait for metadata (a broker may create it on request)
            count = len(await self._producers[0].partitions_for(self.topic))
        self._partitions = count
        return count

    async def _send_all(self, records: Sequence[Record]) -> None:
        count = self._partitions or await self._partition_count()
        lanes = self._lanes
        if len(records) == 1:
            key, value, headers = records[0]
            partition = key_hash(key) % count
            await lanes[partition % len(lanes)].append(partition, key, value, headers)
            return
        waiters = []
        for key, value, headers in records:
            partition = key_hash(key) % count
            waiters.append(lanes[partition % len(lanes)].append(partition, key, value, headers))
        await asyncio.gather(*waiters)

    # -- recovery ----------------------------------------------------------------------
    def _repair_shared(self) -> asyncio.Task[None]:
        """One repair at a time, shared by every request that needs it."""
        task = self._repair_task
        if task is None or task.done():
            task = self._repair_task = asyncio.create_task(self._repair(), name="ingress-repair")
            task.add_done_callback(_consume)
        return task

    async def _repair_once(self) -> None:
        await asyncio.shield(self._repair_shared())

    def _schedule_repair(self) -> None:
        """Repair in the background, not more than once a second."""
        if time.monotonic() - self._last_repair >= 1.0:
            self._repair_shared()

    async def _repair(self) -> None:
        self._last_repair = time.monotonic()
        if self._ensure:
            await ensure_topics(self.settings)
        for producer in self._producers:
            await producer.client.force_metadata_update()
        await self._partition_count()

    async def check(self, timeout_s: float = 2.0) -> str | None:
        """None when the broker answers a metadata request and our topic exists."""
        if not self._lanes or not self.ready:
            return "not connected to the broker yet"
        producer = self._producers[0]
        try:
            cluster = await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            return f"broker unreachable ({type(exc).__name__})"
        if self.topic not in cluster.topics():
            self._schedule_repair()
            return f"topic {self.topic} does not exist"
        return None


def _consume(task: asyncio.Task[None]) -> None:
    """Retrieve a background repair's outcome so a failure is logged once, not warned about."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.info("topic repair failed: %s", type(exc).__name__)
