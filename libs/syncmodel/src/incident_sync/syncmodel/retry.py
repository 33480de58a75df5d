"""The retry ladder as pure rules: after a failed attempt, whether and when the next one is
due and on which delayed topic it waits, or why the command goes to the dead-letter queue.

Attempt 1 is made at once (from `sync.outbound`); attempt n+1 waits `delays_s[n-1]` (±jitter)
on `sync.retry.<n>`; after `len(delays_s) + 1` failed attempts the command is dead. A ladder
longer than the delayed topics (`MAX_TOPICS`, what the chart declares) waits its later steps
on the last topic. A tool's
Retry-After (or rate-limit reset) stretches a wait, never shortens it, clamped so a bogus
header cannot park a command for days. A refusal that retrying cannot fix (a validation
error) is dead at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from incident_sync.syncmodel.topics import retry_topic

DEFAULT_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 480.0, 1800.0)
MAX_TOPICS = 4  # sync.retry.1 .. sync.retry.4


class DeadReason(StrEnum):
    REJECTED = "rejected"  # the tool refused the write (validation): retrying cannot help
    EXHAUSTED = "exhausted"  # every attempt of the ladder failed
    # Our own error: entries made before such messages went to the quarantine instead.
    INTERNAL = "internal"


@dataclass(frozen=True)
class Retry:
    topic: str
    attempt: int  # the attempt the command will be tried as
    wait_s: float


@dataclass(frozen=True)
class Dead:
    reason: DeadReason


@dataclass(frozen=True)
class RetryPolicy:
    delays_s: tuple[float, ...] = DEFAULT_DELAYS_S
    jitter: float = 0.2  # each delay is drawn from [1 - jitter, 1 + jitter] x its value
    retry_after_max_s: float = 1800.0

    def __post_init__(self) -> None:
        if not self.delays_s or any(d <= 0 for d in self.delays_s):
            raise ValueError("the retry ladder needs at least one positive delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(retry_topic(n) for n in range(1, min(len(self.delays_s), MAX_TOPICS) + 1))

    def topic_after(self, attempt: int) -> str:
        """Where the attempt after failed attempt `attempt` waits."""
        return retry_topic(min(attempt, len(self.topics)))

    def delay(self, attempt: int, rand: float) -> float:
        """The jittered wait after failed attempt `attempt` (`rand` uniform in [0, 1))."""
        base = self.delays_s[attempt - 1]
        return base * (1 + self.jitter * (2 * rand - 1))

    def retry_after(self, seconds: float | None) -> float:
        return 0.0 if seconds is None else min(max(0.0, seconds), self.retry_after_max_s)

    def after_failure(
        self, attempt: int, *, retryable: bool, retry_after_s: float | None, rand: float
    ) -> Retry | Dead:
        if not retryable:
            return Dead(DeadReason.REJECTED)
        if attempt >= self.max_attempts:
            return Dead(DeadReason.EXHAUSTED)
        wait = max(self.delay(attempt, rand), self.retry_after(retry_after_s))
        return Retry(self.topic_after(attempt), attempt + 1, wait)

    def topic_for_wait(self, wait_s: float) -> str:
        """Where a deferred command (no attempt spent) waits `wait_s`: the first delayed topic
        whose own delay is at least that long, so what waits ahead of it is due about as
        soon (a partition is released in order)."""
        for n in range(1, len(self.topics) + 1):
            if wait_s <= self.delays_s[n - 1]:
                return retry_topic(n)
        return retry_topic(len(self.topics))


def parse_delays(text: str) -> tuple[float, ...]:
    """ "30,120,480,1800" -> (30.0, 120.0, 480.0, 1800.0)"""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"retry delays must be comma-separated seconds, got {text!r}") from None
    RetryPolicy(delays)  # validates
    return delays
