"""Consumer lag of the workers' group on the topics it reads (end offset - committed offset),
for `incident_sync_consumer_lag`. Read from Kafka like KEDA reads it, every partition (not
only this worker's): every replica exports the same numbers and queries take `max`."""

from __future__ import annotations

import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from incident_sync.outbound.metrics import CONSUMER_LAG
from incident_sync.runtime.settings import Settings

log = logging.getLogger(__name__)


class LagProbe:
    def __init__(self, settings: Settings, group: str, topic_names: tuple[str, ...]) -> None:
        self.settings = settings
        self.group = group
        self.topic_names = topic_names
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False
            )
            await admin.start()
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def measure(self) -> dict[TopicPartition, int]:
        admin, consumer = await self._clients()
        await consumer.topics()  # refresh the metadata: partitions of every topic
        partitions = [
            TopicPartition(t, p)
            for t in self.topic_names
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not partitions:
            return {}
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        lag = {}
        for tp in partitions:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            lag[tp] = max(0, ends[tp] - offset)
        return lag

    async def export(self) -> dict[str, int] | None:
        """Measures and exports the lag; the messages behind per topic (summed over its
        partitions), None when it could not be measured."""
        try:
            lag = await self.measure()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("consumer lag not measured", extra={"reason": repr(exc)})
            await self.aclose()  # reconnect next time
            return None
        per_topic = dict.fromkeys(self.topic_names, 0)
        for tp, value in lag.items():
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(value)
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + value
        return per_topic

    async def aclose(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(KafkaError, OSError):
                await admin.close()
