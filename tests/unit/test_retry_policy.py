"""The retry ladder's pure rules: attempts, delays with jitter, Retry-After, dead letters, and
where a deferred command waits."""

from __future__ import annotations

import pytest

from incident_sync.syncmodel.retry import Dead, DeadReason, Retry, RetryPolicy, parse_delays

POLICY = RetryPolicy()


def test_the_default_ladder_is_immediate_then_30s_2m_8m_30m_then_the_dlq() -> None:
    assert POLICY.max_attempts == 5
    assert POLICY.topics == ("sync.retry.1", "sync.retry.2", "sync.retry.3", "sync.retry.4")
    waits = []
    for attempt in range(1, 5):
        step = POLICY.after_failure(attempt, retryable=True, retry_after_s=None, rand=0.5)
        assert isinstance(step, Retry)
        assert step.attempt == attempt + 1 and step.topic == f"sync.retry.{attempt}"
        waits.append(step.wait_s)
    assert waits == [30.0, 120.0, 480.0, 1800.0]
    assert POLICY.after_failure(5, retryable=True, retry_after_s=None, rand=0.5) == Dead(
        DeadReason.EXHAUSTED
    )


def test_jitter_stays_within_20_percent() -> None:
    low = POLICY.after_failure(1, retryable=True, retry_after_s=None, rand=0.0)
    high = POLICY.after_failure(1, retryable=True, retry_after_s=None, rand=0.999999)
    assert isinstance(low, Retry) and isinstance(high, Retry)
    assert low.wait_s == pytest.approx(24.0) and high.wait_s == pytest.approx(36.0, rel=1e-4)


def test_a_refusal_is_dead_at_once_whatever_the_attempt() -> None:
    assert POLICY.after_failure(1, retryable=False, retry_after_s=None, rand=0.5) == Dead(
        DeadReason.REJECTED
    )


def test_retry_after_stretches_a_wait_never_shortens_it_and_is_clamped() -> None:
    longer = POLICY.after_failure(1, retryable=True, retry_after_s=90, rand=0.5)
    shorter = POLICY.after_failure(2, retryable=True, retry_after_s=5, rand=0.5)
    bogus = POLICY.after_failure(1, retryable=True, retry_after_s=10**9, rand=0.5)
    assert isinstance(longer, Retry) and longer.wait_s == 90
    assert isinstance(shorter, Retry) and shorter.wait_s == 120
    assert isinstance(bogus, Retry) and bogus.wait_s == POLICY.retry_after_max_s


def test_a_deferred_command_waits_on_the_first_topic_whose_delay_covers_the_wait() -> None:
    assert POLICY.topic_for_wait(0.5) == "sync.retry.1"
    assert POLICY.topic_for_wait(30) == "sync.retry.1"
    assert POLICY.topic_for_wait(31) == "sync.retry.2"
    assert POLICY.topic_for_wait(10_000) == "sync.retry.4"


def test_delays_are_configurable_and_checked() -> None:
    assert parse_delays("0.5, 1,2") == (0.5, 1.0, 2.0)
    assert RetryPolicy((1.0, 2.0)).max_attempts == 3
    for bad in ("", "a,b", "1,-2", "0"):
        with pytest.raises(ValueError):
            parse_delays(bad)


def test_a_ladder_longer_than_the_topics_waits_its_later_steps_on_the_last_one() -> None:
    long = RetryPolicy(tuple(float(n) for n in range(1, 10)))
    assert long.max_attempts == 10 and len(long.topics) == 4
    steps = [
        long.after_failure(a, retryable=True, retry_after_s=None, rand=0.5) for a in range(1, 10)
    ]
    assert [s.topic for s in steps if isinstance(s, Retry)] == [
        "sync.retry.1",
        "sync.retry.2",
        "sync.retry.3",
        *["sync.retry.4"] * 6,
    ]
    assert long.after_failure(10, retryable=True, retry_after_s=None, rand=0.5) == Dead(
        DeadReason.EXHAUSTED
    )
