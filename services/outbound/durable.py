"""Retrying a step while the infrastructure (Redis, Kafka) is down.

A processor must never skip a message because Redis or the broker is briefly away: it waits,
holding its partition, and goes on when they are back. Other errors are not retried here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")
log = logging.getLogger(__name__)

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    ConnectionError,
    asyncio.TimeoutError,
)


async def until_done(step: Callable[[], Awaitable[T]], what: str, max_delay_s: float = 5.0) -> T:
    delay = 0.1
    while True:
        try:
            return await step()
        except INFRA_ERRORS as exc:
            log.warning(
                "infrastructure unavailable, retrying",
                extra={"step": what, "error": repr(exc), "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
