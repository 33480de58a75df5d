"""After an attempt: where a command goes next. Each outcome is durable before the caller
marks the message done (and faust commits past it):

- a retryable failure with attempts left -> `sync.retry.<n>` with the next attempt number
  and its `not_before` (the ladder's jittered delay, stretched by the tool's Retry-After);
- a refusal (validation error), or the last attempt failed -> `sync.dlq` first, then the DLQ
  index in Redis (`syncstate.dlq`), which operators list, retry and discard;
- deferred by the throttle (no attempt spent) -> the delayed topic that fits the wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from incident_sync.outbound.durable import until_done
from incident_sync.outbound.metrics import DEFERRED, RETRIES
from incident_sync.outbound.stages.delivery.delivery import DeliveryResult
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncmodel.retry import Dead, Retry, RetryPolicy
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex, owner

log = logging.getLogger(__name__)

# (topic, key, value, headers) -> durable once awaited (acks=all)
Publish = Callable[[str, bytes, bytes, list[tuple[str, bytes]]], Awaitable[None]]
NOT_BEFORE = "not-before"  # header: unix time in ms when a delayed command is due


def command_key(cmd: DeliveryCommand) -> bytes:
    """The key of `sync.outbound`: a retry waits in the partition its record's writes use."""
    target = cmd.target_external_id or f"new:{cmd.platform_incident_id}"
    return topics.target_key(cmd.tenant, cmd.target_integration_id, target)


def due_header(not_before: datetime) -> tuple[str, bytes]:
    return NOT_BEFORE, str(int(not_before.timestamp() * 1000)).encode()


class Ladder:
    def __init__(
        self,
        policy: RetryPolicy,
        dlq: DlqIndex,
        publish: Publish,
        platform_id: Callable[[], str],
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.dlq = dlq
        self.publish = publish
        self.platform_id = platform_id
        self.rand = rand
        self.clock = clock

    async def settle(self, cmd: DeliveryCommand, result: DeliveryResult) -> str:
        """Make the outcome durable; returns what became of the command."""
        if result.outcome == "deferred":
            await self.defer(cmd, result.until or self.clock(), result.error or "deferred")
            return "deferred"
        if result.outcome != "failed":
            return result.outcome
        step = self.policy.after_failure(
            cmd.attempt,
            retryable=result.retryable,
            retry_after_s=result.retry_after_s,
            rand=self.rand(),
        )
        error = result.error or "unknown error"
        if isinstance(step, Retry):
            await self.retry(cmd, step, error)
            return "retried"
        await self.dead(cmd, step, error)
        return "failed"

    def _at(self, wait_s: float) -> datetime:
        return datetime.fromtimestamp(self.clock() + max(0.0, wait_s), UTC)

    async def _send(self, topic: str, cmd: DeliveryCommand) -> None:
        key = command_key(cmd)
        with tracing.sending(topic, key):
            headers = tracing.kafka_headers()
            if cmd.not_before is not None:
                headers.append(due_header(cmd.not_before))
            await self.publish(topic, key, codec.encode(cmd), headers)

    async def retry(self, cmd: DeliveryCommand, step: Retry, error: str) -> None:
        nxt = cmd.model_copy(
            update={
                "attempt": step.attempt,
                "hop": cmd.hop + 1,
                "not_before": self._at(step.wait_s),
                "last_error": error,
            }
        )
        await self._send(step.topic, nxt)
        RETRIES.labels(cmd.target_integration_id).inc()
        log.warning(
            "delivery failed, will retry",
            extra={
                "command_id": cmd.command_id,
                "target": cmd.target_integration_id,
                "attempt": cmd.attempt,
                "next_attempt_in_s": round(step.wait_s, 3),
                "topic": step.topic,
                "error": error,
            },
        )

    async def defer(self, cmd: DeliveryCommand, until: float, reason: str) -> None:
        wait = max(0.0, until - self.clock())
        nxt = cmd.model_copy(update={"hop": cmd.hop + 1, "not_before": self._at(wait)})
        await self._send(self.policy.topic_for_wait(wait), nxt)
        DEFERRED.labels(cmd.target_integration_id, reason).inc()
        log.info(
            "delivery deferred",
            extra={
                "command_id": cmd.command_id,
                "target": cmd.target_integration_id,
                "reason": reason,
                "wait_s": round(wait, 3),
            },
        )

    async def dead(self, cmd: DeliveryCommand, step: Dead, error: str) -> DlqEntry:
        """`sync.dlq` (durable) first, then the index operators query."""
        entry = DlqEntry.of(
            cmd, step.reason, cmd.attempt, error, integration_id=owner(cmd, self.platform_id())
        )
        key = topics.target_key(cmd.tenant, cmd.target_integration_id, cmd.command_id)
        with tracing.sending(topics.DLQ, key):
            value, headers = entry.model_dump_json().encode(), tracing.kafka_headers()
            await self.publish(topics.DLQ, key, value, headers)
        await until_done(lambda: self.dlq.add(entry), "dlq.add")
        log.error(
            "delivery dead-lettered",
            extra={
                "command_id": cmd.command_id,
                "dlq_entry": entry.id,
                "target": cmd.target_integration_id,
                "reason": step.reason.value,
                "attempts": cmd.attempt,
                "error": error,
            },
        )
        return entry
