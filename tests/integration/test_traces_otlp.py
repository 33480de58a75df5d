"""Traces on the real parts, as a collector gets them: the devstack (broker, redis-server,
sandboxes, control, ingress, worker as child processes) exports over OTLP/HTTP to a receiver
this test serves (`tests.otlp`).

A webhook arrives with a W3C `traceparent`, as from a caller that traces its own side: the
ingress's `POST /webhook` span is a child of the caller's span in the caller's trace, and the
trace goes on through Kafka to the worker's stages down to the write to ServiceNow, whose
httpx call is a CLIENT child of the delivery's span; the stages' Redis calls are CLIENT
children of theirs. A write the tool refuses once stays in the trace through the retry
ladder: delivery -> `send sync.retry.<n>` -> the relay's `process sync.retry.<n>` ->
`send sync.outbound` -> delivery again. No credential of the stack appears in any span.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.sandbox.incidentio.webhooks import svix_headers
from tests.integration.conftest import start_stack
from tests.otlp import Receiver, Span

pytestmark = pytest.mark.integration

CREATED = "public_incident.incident_created_v2"
UPDATED = "public_incident.incident_updated_v2"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    otlp = Receiver()
    try:
        yield otlp
    finally:
        otlp.close()


@pytest.fixture(scope="module")
def env(receiver: Receiver) -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s, not every 5 s
            "RETRY_DELAYS_S": "0.5,1,1.5,2",  # the ladder, scaled down
            "RETRY_JITTER": "0",
        }
    )


class Traced:
    """The caller's trace and what the pipeline made of its webhook."""

    def __init__(self, trace_id: str, caller_span: str, incident_id: str, sys_id: str) -> None:
        self.trace_id, self.caller_span = trace_id, caller_span
        self.incident_id, self.sys_id = incident_id, sys_id


def traced_webhook(stack: Stack, event_type: str, incident: dict[str, Any]) -> tuple[str, str]:
    """Send incident.io's webhook for `incident` ourselves, with a `traceparent`: the trace
    id and the caller's span id."""
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    body = json.dumps({"event_type": event_type, event_type: incident}).encode()
    headers = {
        **svix_headers(stack.incidentio_secret, body),
        "traceparent": f"00-{trace_id}-{caller_span}-01",
    }
    answer = httpx.post(f"{stack.url('ingress')}/webhook", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return trace_id, caller_span


@pytest.fixture(scope="module")
def traced(env: tuple[Stack, Tools]) -> Traced:
    stack, tools = env
    # The incident exists in incident.io, whose own webhook is lost: ours, with a trace, is
    # the one that announces it.
    tools.drop_webhooks("incidentio", 1.0)
    incident = tools.declare("Checkout errors", "5xx on /pay")
    tools.drop_webhooks("incidentio", 0.0)
    trace_id, caller_span = traced_webhook(stack, CREATED, incident)
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    return Traced(trace_id, caller_span, incident["id"], records[0]["sys_id"])


def _trace(receiver: Receiver, traced: Traced, outcome: str = "created") -> list[Span]:
    def written() -> list[Span] | None:
        spans = [s for s in receiver.spans() if s.trace_id == traced.trace_id]
        done = any(
            s.attributes.get("sync.stage") == "delivery"
            and s.attributes.get("sync.outcome") == outcome
            for s in spans
        )
        # The delivery's children end before it does, so they are exported with it or earlier.
        return spans if done else None

    return wait_for(written, 30, "the delivery's span")


def test_a_webhook_s_traceparent_is_continued_down_to_the_write(
    receiver: Receiver, traced: Traced
) -> None:
    spans = _trace(receiver, traced)
    by_id = {s.span_id: s for s in spans}
    (delivery,) = [s for s in spans if s.attributes.get("sync.stage") == "delivery"]
    chain = [delivery]
    while chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    chain.reverse()
    # The ingress's span is the caller's span's child; one trace from there to the write.
    assert chain[0].parent_id == traced.caller_span
    assert [(s.name, s.kind, s.service) for s in chain] == [
        ("POST /webhook", "SERVER", "incident-sync-ingress"),
        ("send sync.inbound", "PRODUCER", "incident-sync-ingress"),
        ("process sync.inbound", "CONSUMER", "incident-sync-outbound"),
        ("send sync.changes", "PRODUCER", "incident-sync-outbound"),
        ("process sync.changes", "CONSUMER", "incident-sync-outbound"),
        ("send sync.outbound", "PRODUCER", "incident-sync-outbound"),
        ("process sync.outbound", "CONSUMER", "incident-sync-outbound"),
    ]
    webhook, publish, gate = chain[0], chain[1], chain[2]
    assert webhook.attributes == {
        **webhook.attributes,
        "http.request.method": "POST",
        "http.route": "/webhook",
        "url.path": "/webhook",
        "http.response.status_code": 202,
        "sync.stage": "ingress",
        "sync.integration_id": "incidentio",
        "sync.incident_id": traced.incident_id,
    }
    assert publish.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "sync.inbound",
        "messaging.kafka.message.key": f"default:incidentio:{traced.incident_id}",
    }
    assert gate.attributes == {
        **gate.attributes,
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": "sync.inbound",
        "messaging.consumer.group.name": "incident-sync-outbound",
        "messaging.kafka.message.key": f"default:incidentio:{traced.incident_id}",
        "sync.stage": "gate",
    }
    assert isinstance(gate.attributes["messaging.kafka.offset"], int)
    assert gate.attributes["messaging.destination.partition.id"].isdigit()
    assert delivery.attributes["sync.external_id"] == traced.sys_id


def test_the_tool_call_and_the_redis_calls_are_children_of_the_stages(
    receiver: Receiver, traced: Traced, env: tuple[Stack, Tools]
) -> None:
    stack, _ = env
    spans = _trace(receiver, traced)
    (delivery,) = [s for s in spans if s.attributes.get("sync.stage") == "delivery"]
    calls = [s for s in spans if s.parent_id == delivery.span_id and s.kind == "CLIENT"]
    tool = [s for s in calls if s.scope == "opentelemetry.instrumentation.httpx"]
    # The connector reads (the record, the field dictionary), then creates the ticket.
    (create,) = [s for s in tool if s.name == "POST"]
    snow = httpx.URL(stack.url("servicenow"))
    assert create.attributes == {
        **create.attributes,
        "http.request.method": "POST",
        "server.address": snow.host,
        "server.port": snow.port,
        "http.response.status_code": 201,
    }
    # The URL without its query string (ServiceNow's sysparm_* options).
    assert create.attributes["url.full"] == f"{stack.url('servicenow')}/api/now/table/incident"
    redis = [s for s in calls if s.scope == "opentelemetry.instrumentation.redis"]
    assert redis, [s.name for s in calls]
    assert all(s.attributes["db.system.name"] == "redis" for s in redis)
    # Each command's shape only (a pipeline's one a line), never its arguments.
    # (A command may have two words: `SCRIPT LOAD ?`.)
    lines = [line for s in redis for line in s.attributes["db.query.text"].split("\n")]
    assert all(re.fullmatch(r"[A-Z]+( [A-Z]+)?( \?)*", line) for line in lines), lines
    # The gate's Redis calls are its children too.
    (gate,) = [s for s in spans if s.attributes.get("sync.stage") == "gate"]
    assert any(
        s.parent_id == gate.span_id and s.scope == "opentelemetry.instrumentation.redis"
        for s in spans
    )


def test_no_span_carries_a_credential(
    receiver: Receiver, traced: Traced, env: tuple[Stack, Tools]
) -> None:
    stack, _ = env
    _trace(receiver, traced)
    # Attributes, and the attributes of events (an exception's message).
    leaks = [
        (s.name, key)
        for s in receiver.spans()
        for attributes in (s.attributes, *s.events)
        for key, value in attributes.items()
        for secret in stack.secret_values()
        if secret in _text(value)
    ]
    assert not leaks
    # No request header is recorded (Authorization above all), and no query string.
    for span in receiver.spans():
        assert not any(k.startswith("http.request.header.") for k in span.attributes)
        assert "?" not in str(span.attributes.get("url.full", ""))


def _text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def test_a_retried_write_stays_in_the_trace_through_the_relay(
    receiver: Receiver, traced: Traced, env: tuple[Stack, Tools]
) -> None:
    stack, tools = env
    tools.quiesce()
    # The rename reaches us by our own webhook only; ServiceNow refuses its first write.
    tools.drop_webhooks("incidentio", 1.0)
    tools.edit_incident(traced.incident_id, name="Checkout errors in EU")
    tools.drop_webhooks("incidentio", 0.0)
    tools.api_faults("servicenow", fail_status=503, fail_count=1, path_contains=traced.sys_id)
    try:
        trace_id, caller = traced_webhook(stack, UPDATED, tools.incident(traced.incident_id))
        renamed = Traced(trace_id, caller, traced.incident_id, traced.sys_id)
        spans = _trace(receiver, renamed, outcome="written")
    finally:
        tools.api_faults("servicenow")
    by_id = {s.span_id: s for s in spans}
    (written,) = [s for s in spans if s.attributes.get("sync.outcome") == "written"]
    chain = [written]
    while chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    chain.reverse()
    assert chain[0].parent_id == caller
    names = [s.name for s in chain]
    refused, parked, relay, forward, _ = chain[-5:]
    delayed = parked.name.removeprefix("send ")  # the ladder's topic for the wait
    assert delayed.startswith("sync.retry."), names
    assert names[-5:] == [
        "process sync.outbound",
        f"send {delayed}",
        f"process {delayed}",
        "send sync.outbound",
        "process sync.outbound",
    ], names
    assert refused.attributes["sync.outcome"] == "retried"
    assert parked.kind == forward.kind == "PRODUCER"
    assert relay.kind == "CONSUMER" and relay.attributes == {
        **relay.attributes,
        "sync.stage": "relay",
        "messaging.system": "kafka",
        "messaging.destination.name": delayed,
        "messaging.consumer.group.name": "incident-sync-retry",
    }
    assert forward.attributes["messaging.destination.name"] == "sync.outbound"
    # The refused call is on the first delivery's span, with its status.
    (call,) = [s for s in spans if s.parent_id == refused.span_id and s.scope.endswith("httpx")]
    assert call.attributes["http.response.status_code"] == 503
