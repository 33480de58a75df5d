"""The message limit (`syncmodel.sizes`) against the real models: a change the ingress accepts
(at most `event_limit` bytes) makes no stage message over the value limit, and no record over
KAFKA_MAX_MESSAGE_BYTES, however its text is spread over fields, comments and old values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_sync.syncmodel import codec, sizes, topics
from incident_sync.syncmodel.comments import comment_changes
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    DeliveryCommand,
    FieldChange,
    LinkedEvent,
)
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate.dlq import DlqEntry

LIMITS = [sizes.DEFAULT_MAX_MESSAGE_BYTES, sizes.MIN_MAX_MESSAGE_BYTES, 8 * 1024 * 1024]
ID = "r" * 128  # the longest id the id rule allows
NAME = "n" * 63  # the longest integration / tenant name
INTEGRATIONS = [f"{n:03d}{NAME}"[:63] for n in range(100)]
ERROR = "e" * 4096  # a tool's error text, as sizes.ENVELOPE allows

texts = st.text(max_size=20)  # any characters: JSON escapes grow every copy alike
fields = st.dictionaries(
    st.sampled_from(["title", "description", "status", "assignee", "comment", "custom.Team"]),
    st.builds(FieldChange, old=st.none() | texts, new=st.none() | texts),
    max_size=6,
)
comments = st.none() | st.builds(
    CommentChange,
    action=st.sampled_from(list(CommentAction)),
    comment_id=st.just(ID),
    body=st.none() | texts,
    author=st.none() | st.just(ID),
)


def _at_size(event: ChangeEvent, size: int, pad: str) -> ChangeEvent:
    """The event grown to exactly `size` encoded bytes by one text (`pad`): each "x" added
    is one byte."""
    if pad == "comment.body":
        comment = event.comment or CommentChange(action=CommentAction.ADDED, comment_id=ID)
        event = event.model_copy(update={"comment": comment.model_copy(update={"body": ""})})
    else:
        change = event.changes.get(pad) or FieldChange()
        grown = {**event.changes, pad: FieldChange(old=change.old, new=change.new or "")}
        event = event.model_copy(update={"changes": grown})
    missing = size - len(codec.encode(event))
    assert missing >= 0
    if pad == "comment.body":
        assert event.comment is not None
        body = "x" * missing
        return event.model_copy(update={"comment": event.comment.model_copy(update={"body": body})})
    change = event.changes[pad]
    grown = {
        **event.changes,
        pad: FieldChange(old=change.old, new=(change.new or "") + "x" * missing),
    }
    return event.model_copy(update={"changes": grown})


def _stage_messages(event: ChangeEvent) -> dict[str, bytes]:
    """The largest message each later stage can make of `event`, as the gate, the arbiter
    and the delivery ladder build them (every new value in the state, the comment also as
    the `comment` field, links and detached entries for 100 integrations, long errors)."""
    changes = {**event.changes, **comment_changes(event)}
    state = {k: c.new for k, c in changes.items()}
    linked = LinkedEvent(
        event=event.model_copy(update={"changes": changes}),
        platform_incident_id=ID,
        is_platform=False,
        state=state,
        links=dict.fromkeys(INTEGRATIONS, ID),
        detached=tuple(INTEGRATIONS),
        clobbered=tuple(sorted(state)),
    )
    command = DeliveryCommand(
        causation_id=event.event_id,
        tenant=NAME,
        platform_incident_id=ID,
        source_integration_id=NAME,
        target_integration_id=NAME,
        target_external_id=ID,
        set_fields=state,
        comment=event.comment,
        attempt=5,
        hop=1_000,
        not_before=datetime.now(UTC),
        last_error=ERROR,
        released=True,
    )
    dead = DlqEntry.of(command, DeadReason.EXHAUSTED, 5, ERROR, integration_id=NAME)
    return {
        topics.OBSERVATIONS: codec.encode(event),
        topics.LINKED: codec.encode(linked),
        topics.COMMANDS: codec.encode(command),
        topics.DLQ: dead.model_dump_json().encode(),  # as the ladder publishes it
    }


@pytest.mark.parametrize("limit", LIMITS)
@settings(max_examples=60, deadline=None)
@given(
    changes=fields,
    comment=comments,
    reference=st.none() | st.just(ID),
    actor=st.none() | st.just(ID),
    pad=st.sampled_from(["description", "title", "comment", "comment.body"]),
)
def test_a_change_at_the_limit_fits_every_stage(
    limit: int,
    changes: dict[str, FieldChange],
    comment: CommentChange | None,
    reference: str | None,
    actor: str | None,
    pad: str,
) -> None:
    event = ChangeEvent(
        delivery_id=ID,
        tenant=NAME,
        integration_id=NAME,
        external_id=ID,
        reference=reference,
        kind=ChangeKind.UPDATED,
        changes=changes,
        platform_incident_id=ID,
        version=ID,
        comment=comment,
        actor=actor,
    )
    event = _at_size(event, sizes.event_limit(limit), pad)
    messages = _stage_messages(event)
    assert len(messages[topics.OBSERVATIONS]) == sizes.event_limit(limit)
    for topic, value in messages.items():
        assert len(value) <= sizes.stage_bound(len(messages[topics.OBSERVATIONS])), topic
        assert len(value) <= sizes.value_limit(limit), (topic, len(value))


@pytest.mark.parametrize("limit", LIMITS)
def test_a_value_at_the_value_limit_makes_a_record_within_the_message_limit(limit: int) -> None:
    """Key and headers at their longest (the record key of a 128-character id, W3C trace
    context with a full tracestate, every header a stage sets)."""
    key = topics.target_key(NAME, NAME, f"new:{ID}")
    headers = [
        ("origin", b"reconciler"),
        ("delivery-id", b"x" * 140),
        ("integration-id", NAME.encode()),
        ("traceparent", b"00-" + b"f" * 32 + b"-" + b"f" * 16 + b"-01"),
        ("tracestate", b"t" * 512),
        ("not-before", b"9" * 13),
    ]
    value = b"v" * sizes.value_limit(limit)
    record = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    assert record <= limit


def test_the_limits_the_ingress_applies() -> None:
    """1 MiB of message: changes up to 326,314 bytes (a third, less the envelope)."""
    assert sizes.event_limit(1_048_576) == (1_048_576 - 4096 - 65_536) // 3 == 326_314
    assert sizes.stage_bound(sizes.event_limit(1_048_576)) <= sizes.value_limit(1_048_576)
