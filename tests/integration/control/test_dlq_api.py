"""The dead-letter queue's control API on the real service, redis-server and broker: a bulk
retry the broker refuses part way (a command too large for it) keeps the refused entry and
audits the entries that did go out before it (`control.api.retrying`, shared with the
quarantine)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from incident_sync.syncmodel.events import DeliveryCommand, utcnow
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

T = "/api/v1/tenants/dtenant"
SNOW = {"type": "servicenow", "base_url": "http://127.0.0.1:9", "username": "sync"}
PLATFORM = {"name": "incidentio", "type": "incidentio", "base_url": "http://127.0.0.1:9"}


def dead(command_id: str, title: str, age_s: float) -> DlqEntry:
    cmd = DeliveryCommand(
        command_id=command_id,
        causation_id="e1",
        tenant="dtenant",
        platform_incident_id="INC-D",
        source_integration_id="incidentio",
        target_integration_id="snow-d",
        target_external_id="sys1",
        set_fields={"title": title},
    )
    made = DlqEntry.of(cmd, DeadReason.EXHAUSTED, 6, "HTTP 503")
    return made.model_copy(update={"dead_at": utcnow() - timedelta(seconds=age_s)})


def save(control: ControlService, *entries: DlqEntry) -> None:
    async def run() -> None:
        redis = connect(control.redis_url)
        for e in entries:
            await DlqIndex(redis).add(e)
        await redis.aclose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def admin(control: ControlService) -> Iterator[httpx.Client]:
    with control.client(control.admin) as client:
        client.put(f"{T}/platform", json=PLATFORM).raise_for_status()
        client.put(f"{T}/integrations/snow-d", json=SNOW).raise_for_status()
        yield client


def test_a_bulk_retry_refused_part_way_audits_what_went_out_and_keeps_the_rest(
    control: ControlService, admin: httpx.Client
) -> None:
    old = dead("a" * 32, "small", age_s=5)
    huge = dead("b" * 32, "t" * 1_500_000, age_s=1)  # over the broker's message limit
    save(control, old, huge)
    r = admin.post(f"{T}/integrations/snow-d/dlq/retry", json={})
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
    left = admin.get(f"{T}/integrations/snow-d/dlq").json()
    assert [e["id"] for e in left["items"]] == [huge.id]
    audit = admin.get(f"{T}/audit").json()["items"]
    retries = [a for a in audit if a["action"] == "dlq.retry"]
    assert [a["before"]["dlq_entries"] for a in retries] == [[old.id]]
