"""Retrying a step while the infrastructure (Redis, Kafka) is down.

A processor must never skip a message because Redis or the broker is briefly away: it waits,
holding its partition, and goes on when they are back. Other errors are not retried here:
they are the message's (or a bug's), and the stage puts the message in the quarantine
(`outbound.quarantine`). A record too large to produce is one of those, although aiokafka
raises it as a KafkaError: waiting does not make it smaller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from incident_sync.syncstate.quarantine import too_large

T = TypeVar("T")
log = logging.getLogger(__name__)

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    # Redis answers, but cannot take writes now (full, a replica, a failover under way).
    OutOfMemoryError,
    ReadOnlyError,
    MasterDownError,
    TryAgainError,
    ClusterDownError,
    KafkaError,
    ConnectionError,
    asyncio.TimeoutError,
)


def infrastructure(exc: BaseException) -> bool:
    """Redis or the broker being away (wait for them), not something about the message."""
    if too_large(exc):
        return False
    if isinstance(exc, ProducerSendError) and exc.__cause__ is not None:
        exc = exc.__cause__  # faust's wrapper of the producer's own error
    return isinstance(exc, INFRA_ERRORS)


async def until_done(step: Callable[[], Awaitable[T]], what: str, max_delay_s: float = 5.0) -> T:
    delay = 0.1
    while True:
        try:
            return await step()
        except Exception as exc:
            if not infrastructure(exc):
                raise
            log.warning(
                "infrastructure unavailable, retrying",
                extra={"step": what, "error": repr(exc), "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
