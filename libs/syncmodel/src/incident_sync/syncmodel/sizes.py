"""How big a message gets, stage by stage: the one message limit, and the largest change the
ingress may accept under it. Pure arithmetic; `tests/unit/test_sizes.py` checks the bound
against the real models.

`KAFKA_MAX_MESSAGE_BYTES` (M, default 1 MiB, Kafka's own default) is the largest record any
stage produces or fetches: every producer's `max_request_size`, every consumer's fetch size
and every topic's `max.message.bytes` (the chart renders both from one value). A record is
its value plus its key, headers and framing (`RECORD_HEADROOM`), so a value may have
`value_limit(M)` bytes.

A change of E bytes on `sync.inbound` (the encoded `ChangeEvent`) grows on its way:
- `sync.changes` (`LinkedEvent`): the event (a comment event carries its text twice: the
  comment and the `comment` field change), plus the record's state, which repeats every new
  value once more: at most 3 E, plus the incident's links, detached integrations and
  clobbered field names;
- `sync.outbound` and `sync.retry.<n>` (`DeliveryCommand`): the fields to set (values of the
  state) and the comment: at most 2 E, plus ids, times and the last error;
- `sync.dlq` (`DlqEntry`): a command plus the error once more.
`ENVELOPE` bounds what is not the change's own text (links and detached entries for up to 100
integrations, two error texts of up to 4 KB, ids, times and keys), so every stage's value is at
most `GROWTH` x E + `ENVELOPE`. The ingress therefore refuses (413) a change larger than
`event_limit(M)`: whatever it accepts fits every message made from it.

Not bounded here: values that come from a tool's API rather than the webhook (a refresh, the
reconciler's reads), and the values of a record's other fields known from earlier changes,
which the state also carries (a delta webhook's record may have accumulated them). A stage
message those make too large is the stage's to quarantine.
"""

from __future__ import annotations

from typing import Final

DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_576
# Key (tenant:integration:record, <= 260 bytes), headers (origin, delivery-id, integration-id,
# traceparent, tracestate up to W3C's 512, not-before: < 1 KB) and the record batch framing.
RECORD_HEADROOM: Final = 4096
ENVELOPE: Final = 64 * 1024
GROWTH: Final = 3
# The smallest limit that still leaves room for a useful change.
MIN_MAX_MESSAGE_BYTES: Final = RECORD_HEADROOM + ENVELOPE + GROWTH * 4096


def value_limit(max_message_bytes: int) -> int:
    """The largest record value (the encoded model) any stage may produce."""
    return max_message_bytes - RECORD_HEADROOM


def event_limit(max_message_bytes: int) -> int:
    """The largest encoded `ChangeEvent` the ingress accepts."""
    return (value_limit(max_message_bytes) - ENVELOPE) // GROWTH


def stage_bound(event_bytes: int) -> int:
    """The largest value any stage makes from a change of `event_bytes`."""
    return GROWTH * event_bytes + ENVELOPE
