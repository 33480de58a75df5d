"""The delivery stage against a real redis-server and the ServiceNow sandbox over HTTP:
creates are guarded by the correlation field, fingerprints precede the write, and the
target's new version is remembered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.delivery.delivery import Delivery
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.settings import Settings
from incident_sync.sandbox.servicenow.app import build_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect

pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[TestServer]:
    server = TestServer(build_app(ServiceNowConfig(users={"incident-sync": "pw"})))
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def ctx(redis_url: str, sandbox: TestServer) -> AsyncIterator[Context]:
    redis = connect(redis_url)
    await redis.flushdb()
    config = SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://unused"),
        integrations=(
            IntegrationConfig(
                id="prod-snow",
                type="servicenow",
                base_url=str(sandbox.make_url("")).rstrip("/"),
                username="incident-sync",
                password="pw",
                actor="incident-sync",
            ),
        ),
    )
    context = Context(
        settings=Settings(),
        config=config,
        store=StateStore(redis),
        mappings={s.id: s.mapping() for s in (config.platform, *config.integrations)},
    )
    yield context
    await context.aclose()


def create(pid: str = "01TESTINCIDENT") -> DeliveryCommand:
    return DeliveryCommand(
        causation_id="e1",
        platform_incident_id=pid,
        source_integration_id="incidentio",
        target_integration_id="prod-snow",
        set_fields={"title": "Disk full", "description": "db-3"},
    )


async def tickets(ctx: Context, pid: str) -> list[str]:
    connector = ctx.connector("prod-snow")
    assert isinstance(connector, ServiceNowConnector)
    rows = await connector.client.search_incidents(f"u_incident_io_id={pid}")
    return [r["sys_id"] for r in rows]


async def test_a_retried_create_after_losing_the_link_makes_no_second_ticket(ctx: Context) -> None:
    delivery = Delivery(ctx)
    first = await delivery.process(create())
    assert first.outcome == "created"
    # the worker died after the write, before the link reached Redis
    await ctx.store.redis.flushdb()
    again = await delivery.process(create())
    assert again.outcome == "written" and again.external_id == first.external_id
    assert await tickets(ctx, "01TESTINCIDENT") == [first.external_id]
    assert await ctx.store.links_of("default", "01TESTINCIDENT") == {"prod-snow": first.external_id}


async def test_update_records_the_fingerprint_and_the_new_version(ctx: Context) -> None:
    delivery = Delivery(ctx)
    sys_id = (await delivery.process(create("01OTHER"))).external_id
    assert sys_id is not None
    cmd = DeliveryCommand(
        causation_id="e2",
        platform_incident_id="01OTHER",
        source_integration_id="incidentio",
        target_integration_id="prod-snow",
        target_external_id=sys_id,
        set_fields={"title": "Disk full again"},
    )
    assert (await delivery.process(cmd)).outcome == "written"
    key = keys.echo_fingerprint("default", "prod-snow", sys_id, "title", "Disk full again")
    assert await ctx.store.redis.exists(key)
    state = await ctx.store.known_state("default", "prod-snow", sys_id)
    known, versions = state.fields, state.versions
    assert known["title"] == "Disk full again"
    assert versions["title"] == "0000000001"  # sys_mod_count after the update


async def test_a_validation_error_fails_as_not_retryable(ctx: Context) -> None:
    delivery = Delivery(ctx)
    cmd = DeliveryCommand(
        causation_id="e3",
        platform_incident_id="01X",
        source_integration_id="incidentio",
        target_integration_id="prod-snow",
        target_external_id="0" * 32,
        set_fields={"title": "x"},
    )
    result = await delivery.process(cmd)
    assert result.outcome == "failed" and not result.retryable
    assert "No Record found" in (result.error or "")  # the tool's own message


async def test_a_stale_retry_never_overwrites_a_newer_value(ctx: Context) -> None:
    """A write that failed and comes back from the retry ladder after a newer change of the
    same field won is skipped: the tool keeps the newer value."""
    delivery = Delivery(ctx)
    sys_id = (await delivery.process(create("01STALE"))).external_id
    assert sys_id is not None
    old_ts = datetime.now(UTC) - timedelta(seconds=30)
    new_ts = old_ts + timedelta(seconds=10)

    def update(title: str, ts: datetime, attempt: int = 1) -> DeliveryCommand:
        return DeliveryCommand(
            causation_id=f"e-{title}",
            platform_incident_id="01STALE",
            source_integration_id="incidentio",
            target_integration_id="prod-snow",
            target_external_id=sys_id,
            set_fields={"title": title},
            source_ts=ts,
            attempt=attempt,
        )

    # The newer change won at the arbiter and was written...
    await ctx.store.set_field_writes(
        "default", "01STALE", {"title": FieldWrite("incidentio", "newer", new_ts)}
    )
    assert (await delivery.process(update("newer", new_ts))).outcome == "written"
    # ...then the older one's third attempt arrives.
    assert (await delivery.process(update("older", old_ts, attempt=3))).outcome == "skipped"
    connector = ctx.connector("prod-snow")
    assert (await connector.fetch(sys_id)).fields["title"] == "newer"
