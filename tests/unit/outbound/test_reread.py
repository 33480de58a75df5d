"""Where a refresh whose read failed waits (`stages.gate.reread.later`): the ladder's topics and
delays by read attempt, its own headers replaced (never piled up), the original ones kept;
a refusal or the last attempt is not tried again."""

from __future__ import annotations

from incident_sync.connectors.base import ToolError
from incident_sync.outbound.stages.delivery.ladder import NOT_BEFORE
from incident_sync.outbound.stages.gate.reread import ATTEMPT, RETRY_TO, attempt, later
from incident_sync.syncmodel import topics
from incident_sync.syncmodel.retry import RetryPolicy
from incident_sync.syncstate.quarantine import Message

POLICY = RetryPolicy(delays_s=(10.0, 20.0), jitter=0.0)
DOWN = ToolError("HTTP 503", status=503, retryable=True)


def message(*headers: tuple[str, bytes]) -> Message:
    return Message(
        topic=topics.OBSERVATIONS, value=b"{}", key=b"k", headers=(("origin", b"manual"), *headers)
    )


def test_the_first_failed_read_waits_on_the_first_delayed_topic() -> None:
    plan = later(message(), DOWN, POLICY, rand=lambda: 0.5, clock=lambda: 1000.0)
    assert plan is not None
    topic, headers, wait_s = plan
    assert (topic, wait_s) == (topics.retry_topic(1), 10.0)
    assert ("origin", b"manual") in headers
    assert (ATTEMPT, b"2") in headers and (RETRY_TO, topics.OBSERVATIONS.encode()) in headers
    assert (NOT_BEFORE, b"1010000") in headers


def test_a_later_attempt_replaces_the_headers_of_the_one_before() -> None:
    first = later(message(), DOWN, POLICY, rand=lambda: 0.5, clock=lambda: 0.0)
    assert first is not None
    again = later(message(*first[1][1:]), DOWN, POLICY, rand=lambda: 0.5, clock=lambda: 0.0)
    assert again is not None
    topic, headers, wait_s = again
    assert (topic, wait_s) == (topics.retry_topic(2), 20.0)
    assert attempt(headers) == 3
    assert [name for name, _ in headers].count(ATTEMPT) == 1
    assert [name for name, _ in headers].count(NOT_BEFORE) == 1


def test_a_retry_after_stretches_the_wait() -> None:
    busy = ToolError("HTTP 429", status=429, retryable=True, retry_after_s=60.0)
    plan = later(message(), busy, POLICY, rand=lambda: 0.5, clock=lambda: 0.0)
    assert plan is not None and plan[2] == 60.0


def test_a_refusal_or_the_last_attempt_is_not_tried_again() -> None:
    refused = ToolError("HTTP 403", status=403, retryable=False)
    assert later(message(), refused, POLICY) is None
    assert later(message((ATTEMPT, b"3")), DOWN, POLICY) is None  # 2 delays: 3 attempts
    assert attempt(message((ATTEMPT, b"junk")).headers) == 1
