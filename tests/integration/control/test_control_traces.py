"""The control API's spans, as a collector gets them (the real service, a child process,
exporting over OTLP/HTTP to a receiver this test serves): one SERVER span per request named by
its route, a caller's W3C `traceparent` continued, its Redis calls as children, and no secret
of an integration written through it in any span; what a request publishes (a DLQ entry
retried) carries the request's trace on to the worker."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from incident_sync.devstack.tools import wait_for
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex, entry_id
from tests.integration.control.service import ControlService, start_control
from tests.otlp import Receiver, Span

pytestmark = pytest.mark.integration

TRACES_DB = 9
T = "/api/v1/tenants/traced"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    otlp = Receiver()
    try:
        yield otlp
    finally:
        otlp.close()


@pytest.fixture(scope="module")
def traced_control(
    redis_port: int, control_broker: str, receiver: Receiver
) -> Iterator[ControlService]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    service = start_control(redis_port, TRACES_DB, kafka_bootstrap=control_broker, env=env)
    try:
        yield service
    finally:
        service.stop()


def _in_trace(receiver: Receiver, trace_id: str, count: int) -> list[Span]:
    def found() -> list[Span] | None:
        spans = [s for s in receiver.spans() if s.trace_id == trace_id]
        return spans if sum(s.kind == "SERVER" for s in spans) >= count else None

    return wait_for(found, 30, "the request's span")


def test_a_request_is_a_span_in_the_caller_s_trace_with_no_secret(
    traced_control: ControlService, receiver: Receiver
) -> None:
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = {"traceparent": f"00-{trace_id}-{caller}-01"}
    password, hook = traced_control.secret(), traced_control.secret()
    body = {
        "name": "snow-t",
        "type": "servicenow",
        "base_url": "http://127.0.0.1:9",
        "username": "sync",
        "password": password,
        "webhook_secret": hook,
    }
    with traced_control.client(traced_control.admin) as admin:
        assert admin.post(f"{T}/integrations", json=body, headers=traceparent).status_code == 201
    with traced_control.client() as anonymous:
        assert anonymous.get("/api/v1/whoami", headers=traceparent).status_code == 401
    spans = _in_trace(receiver, trace_id, 2)
    refused, create = sorted((s for s in spans if s.kind == "SERVER"), key=lambda s: s.name)
    assert create.parent_id == refused.parent_id == caller
    assert create.service == "incident-sync-control"
    assert create.name == "POST /api/v1/tenants/{tenant}/integrations"
    assert create.attributes == {
        **create.attributes,
        "http.request.method": "POST",
        "http.route": "/api/v1/tenants/{tenant}/integrations",
        "url.path": f"{T}/integrations",
        "http.response.status_code": 201,
    }
    assert refused.name == "GET /api/v1/whoami"
    assert refused.attributes["http.response.status_code"] == 401
    assert refused.status == 0  # a 4xx is the client's error, not the server's
    # The store's writes are the request's children, and show no argument.
    stored = [s for s in spans if s.parent_id == create.span_id and s.kind == "CLIENT"]
    assert stored and all(s.attributes["db.system.name"] == "redis" for s in stored)
    everything = json.dumps([s.attributes for s in receiver.spans()])
    assert password not in everything and hook not in everything
    assert traced_control.admin not in everything


async def test_a_retried_dlq_entry_carries_the_request_s_trace(
    traced_control: ControlService, receiver: Receiver, control_broker: str
) -> None:
    with traced_control.client(traced_control.admin) as admin:
        body = {"name": "snow-d", "type": "servicenow", "base_url": "http://127.0.0.1:9"}
        assert admin.post(f"{T}/integrations", json=body).status_code == 201
    command_id = secrets.token_hex(16)
    cmd = DeliveryCommand(
        command_id=command_id,
        causation_id="e1",
        tenant="traced",
        platform_incident_id="INC-T",
        source_integration_id="incidentio",
        target_integration_id="snow-d",
        target_external_id="sys1",
        set_fields={"title": "t"},
    )
    redis = Redis.from_url(traced_control.redis_url)
    await DlqIndex(redis).add(DlqEntry.of(cmd, DeadReason.REJECTED, 1, "HTTP 400"))
    await redis.aclose()
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    with traced_control.client(traced_control.admin) as admin:
        path = f"{T}/integrations/snow-d/dlq/{entry_id(command_id)}/retry"
        answer = admin.post(path, headers={"traceparent": f"00-{trace_id}-{caller}-01"})
        assert answer.status_code == 202, answer.text
    spans = _in_trace(receiver, trace_id, 1)
    (request,) = [s for s in spans if s.kind == "SERVER"]
    (send,) = [s for s in spans if s.kind == "PRODUCER"]
    assert request.parent_id == caller and send.parent_id == request.span_id
    assert send.name == "send sync.outbound"
    assert send.attributes["messaging.destination.name"] == "sync.outbound"
    # The record on sync.outbound: the worker's delivery span will be the send span's child.
    consumer = AIOKafkaConsumer(
        topics.COMMANDS, bootstrap_servers=control_broker, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found = None
        async with asyncio.timeout(30):
            async for record in consumer:
                if codec.decode(DeliveryCommand, record.value).command_id == command_id:
                    found = dict(record.headers)
                    break
    finally:
        await consumer.stop()
    assert found is not None
    assert found["traceparent"].decode().split("-")[1:3] == [trace_id, send.span_id]
