"""A refresh the tool could not answer now waits and comes back to the gate.

The gate re-reads a record through its connector for a `refresh` event (a manual sync, a
reconciler push, a webhook that cannot carry values). When that read fails in a way trying
again can help (`ToolError.retryable`: a 5xx, a 429, a timeout), the event is not the
quarantine's yet: its original record goes on the retry ladder's delayed topics with its key
and headers, plus `retry-to: sync.inbound` (where the relay sends it once due), `not-before`
and `read-attempt` (the attempt that comes next), and the gate goes on with the partition. The
gate writes a delivery's dedupe mark only once it handled it, so the event that comes back is
processed like the first time. A refusal, or the ladder's last attempt failing, goes to the
quarantine with the tool's error, as any message the gate cannot process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from incident_sync.connectors.base import ToolError
from incident_sync.outbound.stages.delivery.ladder import NOT_BEFORE, due_header
from incident_sync.syncmodel import topics
from incident_sync.syncmodel.retry import Retry, RetryPolicy
from incident_sync.syncstate.quarantine import Message

ATTEMPT = "read-attempt"  # header: the read attempt this event makes (absent: the first)
RETRY_TO = "retry-to"  # header: the topic the retry relay sends a due record to
_OURS = (ATTEMPT, RETRY_TO, NOT_BEFORE)


def attempt(headers: Sequence[tuple[str, bytes]]) -> int:
    for name, value in headers:
        if name == ATTEMPT:
            try:
                return max(1, int(value))
            except ValueError:
                return 1
    return 1


def later(
    message: Message,
    error: ToolError,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.time,
) -> tuple[str, list[tuple[str, bytes]], float] | None:
    """Where the event waits, with which headers, for how long (s); None: not worth trying
    again (a refusal, or the last attempt failed)."""
    step = policy.after_failure(
        attempt(message.headers),
        retryable=error.retryable,
        retry_after_s=error.retry_after_s,
        rand=rand(),
    )
    if not isinstance(step, Retry):
        return None
    due = datetime.fromtimestamp(clock() + step.wait_s, UTC)
    headers = [h for h in message.headers if h[0] not in _OURS]
    headers += [
        (ATTEMPT, str(step.attempt).encode()),
        (RETRY_TO, topics.OBSERVATIONS.encode()),
        due_header(due),
    ]
    return step.topic, headers, step.wait_s
