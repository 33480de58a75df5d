"""Kafka clients configured the way every service needs them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics

log = logging.getLogger(__name__)


def make_producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    """acks=all and no linger: each send is on its way at once, and durable when acked.

    aiokafka keeps one request in flight per broker, so linger only makes callers wait.
    A record may be as large as KAFKA_MAX_MESSAGE_BYTES (`syncmodel.sizes`); batches of
    several records stay below it.
    """
    limit = settings.kafka_max_message_bytes
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "linger_ms": 0,
        "enable_idempotence": settings.kafka_idempotence,
        "max_request_size": limit,
        "max_batch_size": min(256 * 1024, limit),
        "request_timeout_ms": 10_000,
        "retry_backoff_ms": 100,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def fetch_options(settings: Settings) -> dict[str, int]:
    """Consumer fetch sizes that take any record up to KAFKA_MAX_MESSAGE_BYTES. (Kafka hands
    out a larger first batch anyway; aiokafka would skip a record it cannot read whole.)"""
    limit = settings.kafka_max_message_bytes
    return {"max_partition_fetch_bytes": limit, "fetch_max_bytes": max(50 * 1024 * 1024, limit)}


async def ensure_topics(settings: Settings, names: Iterable[str] = topics.ALL) -> None:
    """Create the topics if missing (in production Strimzi KafkaTopic resources own them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(n, settings.kafka_topic_partitions, settings.kafka_replication_factor)
            for n in names
            if n not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica won the race
                await admin.create_topics(wanted)
            log.info("created topics %s", [t.name for t in wanted])
    finally:
        await admin.close()
