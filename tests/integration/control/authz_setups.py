"""The roles, the cases' shape and the state each case needs before it runs, for the role x
route matrix (`test_authz.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncmodel.fields import ConflictStrategy
from incident_sync.syncmodel.matching import By
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate import keys
from incident_sync.syncstate.backfilljobs import BackfillJob, BackfillJobStore
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.conflicts import ConflictRecord, ConflictStore, SideValue
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex, entry_id
from incident_sync.syncstate.linkjobs import LinkJob, LinkJobStore
from incident_sync.syncstate.quarantine import Message, QuarantineEntry, QuarantineIndex, Stage
from incident_sync.syncstate.reconcile import ReconcileRun, ReconcileStore, RunMode
from incident_sync.syncstate.timeline import Entry, Kind, Timeline

ROLES = ("admin", "manager", "manager_one", "commander", "viewer", "anonymous")
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
ADMIN = frozenset({"admin"})
MANAGERS = frozenset({"admin", "manager", "manager_one"})  # manager_one: acme/snow-a, acme/snow-c
TENANT_MANAGERS = frozenset({"admin", "manager"})  # manager: all of tenant acme
STATUS = frozenset({"admin", "manager", "manager_one", "commander", "viewer"})

A = "/api/v1/tenants/acme"
SNOW = {"type": "servicenow", "base_url": "http://127.0.0.1:9", "username": "sync"}
PLATFORM = {"name": "incidentio", "type": "incidentio", "base_url": "http://127.0.0.1:9"}


@dataclass
class Case:
    method: str
    path: str
    allowed: frozenset[str]
    route: str  # the OpenAPI path it exercises
    body: Callable[[], Any] | None = None
    ok: tuple[int, ...] = (200,)
    before: Callable[[httpx.Client], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def deleting(path: str) -> Callable[[httpx.Client], Any]:
    return lambda admin: admin.delete(path)


def token_path(admin: httpx.Client) -> None:
    r = admin.post("/api/v1/tokens", json={"name": "throwaway", "role": "viewer"})
    CASES_STATE["token"] = r.json()["id"]


CASES_STATE: dict[str, str] = {}

# Two conflicts of tenant acme: one on snow-a about an incident led by the commander ("ic"),
# one on snow-b about somebody else's incident.
CONFLICT_A, CONFLICT_B = "conflict-00000000000a", "conflict-00000000000b"


def pending_conflicts(admin: httpx.Client | None = None) -> None:
    asyncio.run(save_conflicts(CASES_STATE["redis"]))


async def save_conflicts(redis_url: str) -> None:
    redis = connect(redis_url)
    now = datetime.now(UTC)
    for conflict_id, integration, incident, lead in (
        (CONFLICT_A, "snow-a", "INC-A", "ic"),
        (CONFLICT_B, "snow-b", "INC-B", "someone-else"),
    ):
        await ConflictStore(redis).save(
            ConflictRecord(
                id=conflict_id,
                tenant="acme",
                platform_incident_id=incident,
                field="title",
                integration_id=integration,
                strategy=ConflictStrategy.MANUAL_REVIEW,
                platform=SideValue(side="incidentio", record_id=incident, value="p", ts=now),
                external=SideValue(side=integration, record_id="sys1", value="e", ts=now),
            )
        )
        await redis.hset(keys.state("acme", "incidentio", incident), "assignee", lead)
    await redis.aclose()


def linked_record(admin: httpx.Client | None = None) -> None:
    """A record of snow-a linked to an incident, as the pipeline leaves it in Redis."""

    async def link() -> None:
        redis = connect(CASES_STATE["redis"])
        await redis.set(keys.link("acme", "snow-a", "sys1"), "INC-A")
        await redis.aclose()

    asyncio.run(link())


def timelines(admin: httpx.Client | None = None) -> None:
    """INC-A (led by "ic") and INC-B (led by someone else) with a timeline entry each, and a
    record of snow-a linked to INC-A, as the pipeline leaves them."""

    async def record() -> None:
        await save_conflicts(CASES_STATE["redis"])  # the incidents' leads
        redis = connect(CASES_STATE["redis"])
        for incident in ("INC-A", "INC-B"):
            await Timeline(redis).add("acme", incident, Entry(Kind.RECEIVED, ("incidentio",)))
        await redis.set(keys.link("acme", "snow-a", "sys1"), "INC-A")
        await redis.aclose()

    asyncio.run(record())


# A reconcile run of snow-a, saved as the reconciler saves one.
RUN_A = "rec-00000000000a"


def saved_run(admin: httpx.Client | None = None) -> None:
    asyncio.run(save_run(CASES_STATE["redis"]))


async def save_run(redis_url: str) -> None:
    redis = connect(redis_url)
    await ReconcileStore(redis).save(
        ReconcileRun(id=RUN_A, tenant="acme", integration="snow-a", mode=RunMode.DRY_RUN)
    )
    await redis.aclose()


# A link job and a backfill of snow-a, saved as the reconciler saves them.
JOB_A = "lnk-00000000000a"


def saved_job(admin: httpx.Client | None = None) -> None:
    asyncio.run(save_job(CASES_STATE["redis"]))


async def save_job(redis_url: str) -> None:
    redis = connect(redis_url)
    job = LinkJob(id=JOB_A, tenant="acme", integration="snow-a", by=By.CORRELATION, since_s=60)
    await LinkJobStore(redis).save(job)
    await BackfillJobStore(redis).save(
        BackfillJob(id=JOB_A, tenant="acme", integration="snow-a", since_s=60)
    )
    await redis.aclose()


def schedule(admin: httpx.Client) -> None:
    path = f"{A}/integrations/snow-a/reconcile/schedule"
    admin.post(path, json={"interval": 3600}).raise_for_status()


# One dead-lettered write in each of snow-a's and snow-b's DLQ (put back before each case).
DLQ_ENTRY = entry_id("0123456789abcdef0123456789abcdef")


def dlq_entries(admin: httpx.Client | None = None) -> None:
    asyncio.run(save_dlq_entries(CASES_STATE["redis"]))


async def save_dlq_entries(redis_url: str) -> None:
    redis = connect(redis_url)
    for integration in ("snow-a", "snow-b"):
        cmd = DeliveryCommand(
            command_id="0123456789abcdef0123456789abcdef",
            causation_id="e1",
            tenant="acme",
            platform_incident_id="INC-A",
            source_integration_id="incidentio",
            target_integration_id=integration,
            target_external_id="sys1",
            set_fields={"title": "t"},
        )
        await DlqIndex(redis).add(DlqEntry.of(cmd, DeadReason.REJECTED, 1, "HTTP 400"))
    await redis.aclose()


# Quarantined messages of tenant acme: one of snow-a, one of snow-b, one of no integration.
def quarantined(n: int, integration: str | None) -> QuarantineEntry:
    message = Message(topic="sync.inbound", value=b"{", key=b"k", partition=0, offset=n)
    return QuarantineEntry.of(
        Stage.GATE, message, ValueError("bad"), tenant="acme", integration_id=integration
    )


Q_A, Q_B, Q_T = quarantined(1, "snow-a"), quarantined(2, "snow-b"), quarantined(3, None)


def quarantine_entries(admin: httpx.Client | None = None) -> None:
    async def save() -> None:
        redis = connect(CASES_STATE["redis"])
        for entry in (Q_A, Q_B, Q_T):
            await QuarantineIndex(redis).add(entry)
        await redis.aclose()

    asyncio.run(save())
