"""The reconciler's engine on a real redis-server and the two sandboxes over HTTP (in this
process): records gone from the tool are unlinked when asked, unless so many are gone that
the read itself is suspect; then they are only reported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from incident_sync.controlstore.source import FileSource
from incident_sync.reconciler.engine import MISSING_FLOOR, Engine
from incident_sync.reconciler.publisher import Publisher, headers
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.runtime import tracing
from incident_sync.sandbox.incidentio.app import build_app as incidentio_app
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.sandbox.servicenow.app import build_app as servicenow_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.drift import MissingPolicy
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.links import LinkView
from incident_sync.syncstate.reconcile import ReconcileRun, RunMode
from tests.unit.connectors.sandbox_harness import Harness, running

pytestmark = pytest.mark.integration

LINKS = 8


@pytest.fixture
async def sides() -> AsyncIterator[tuple[Harness, Harness]]:
    async with (
        running(lambda hook: incidentio_app(IncidentioConfig(webhook_url=hook))) as io,
        running(lambda hook: servicenow_app(ServiceNowConfig(webhook_url=hook))) as sn,
    ):
        yield io, sn


def sync_config(io: Harness, sn: Harness) -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "platform": {"id": "incidentio", "type": "incidentio", "base_url": io.url,
                         "api_key": "sandbox-api-key"},
            "integrations": [{"id": "prod-snow", "type": "servicenow", "base_url": sn.url,
                              "username": "incident-sync", "password": "secret"}],
        }
    )  # fmt: skip


async def post(h: Harness, path: str, body: dict[str, Any], method: str = "POST") -> Any:
    async with httpx.AsyncClient(base_url=h.url) as client:
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None


async def test_gone_records_are_unlinked_unless_too_many_are_gone(
    sides: tuple[Harness, Harness], redis_url: str
) -> None:
    io, sn = sides
    redis = connect(redis_url)
    await redis.flushdb()
    links = []
    for n in range(LINKS):
        incident = (await post(io, "/_sandbox/incidents", {"name": f"I{n}"}))["incident"]
        body = {"short_description": f"I{n}", "u_incident_io_id": incident["id"]}
        ticket = (await post(sn, "/_sandbox/table/incident", body))["result"]
        await redis.set(keys.link("default", "prod-snow", ticket["sys_id"]), incident["id"])
        await redis.hset(keys.links("default", incident["id"]), "prod-snow", ticket["sys_id"])
        links.append(ticket["sys_id"])
    config = sync_config(io, sn)
    view = LinkView(redis)
    engine = Engine(Sides(FileSource(""), config), view, Publisher(ReconcilerSettings()), "t")
    unlink = ReconcileRun(integration="prod-snow", mode=RunMode.AUTO_HEAL,
                          on_missing=MissingPolicy.UNLINK)  # fmt: skip

    async def delete(sys_id: str) -> None:
        await post(sn, f"/_sandbox/table/incident/{sys_id}", {}, method="DELETE")

    await delete(links[0])
    run = await engine.run(unlink)
    assert [(d.external_id, d.type.value, d.heal.value) for d in run.discrepancies] == [
        (links[0], "missing_external", "unlink")
    ]
    assert run.fixes == 1 and run.notes == []
    assert links[0] not in await view.links("default", "prod-snow")

    for sys_id in links[1 : 2 + MISSING_FLOOR]:  # more than the floor (8 links: 10 % < 5)
        await delete(sys_id)
    run = await engine.run(unlink.model_copy(update={"id": "rec-000000000002"}))
    assert run.discrepancies_found == MISSING_FLOOR + 1 and run.fixes == 0
    assert {d.heal.value for d in run.discrepancies} == {"none"}
    assert run.notes and "reported only" in run.notes[0]
    assert len(await view.links("default", "prod-snow")) == LINKS - 1
    await engine.sides.aclose()
    await redis.aclose()


async def test_a_run_is_a_span_and_its_corrective_changes_carry_it(
    sides: tuple[Harness, Harness], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    io, sn = sides
    redis = connect(redis_url)
    await redis.flushdb()
    config = sync_config(io, sn)
    engine = Engine(
        Sides(FileSource(""), config), LinkView(redis), Publisher(ReconcilerSettings()), "t"
    )
    run = await engine.run(ReconcileRun(integration="prod-snow", mode=RunMode.DRY_RUN))
    (span,) = memory.get_finished_spans()
    assert span.name == "reconcile" and run.error is None
    assert dict(span.attributes or {}) == {
        "sync.stage": "reconcile",
        "sync.integration_id": "prod-snow",
        "sync.integration_type": "servicenow",
        "sync.reconcile_mode": "dry-run",
    }
    # What a run publishes carries the run's span, as the ingress's webhooks carry theirs.
    event = ChangeEvent(
        delivery_id="d", integration_id="prod-snow", external_id="x", kind=ChangeKind.REFRESH
    )
    with tracing.stage("reconcile", kind=SpanKind.INTERNAL) as current:
        names = dict(headers(event))
    trace_id = format(current.get_span_context().trace_id, "032x")
    assert names["traceparent"].decode().split("-")[1] == trace_id
    assert names["origin"] == b"user" and names["integration-id"] == b"prod-snow"
    await engine.sides.aclose()
    await redis.aclose()
    provider.shutdown()
