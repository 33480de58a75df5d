"""The PagerDuty connector against the PagerDuty sandbox over HTTP: creates keyed by
incident_key, status / priority / assignee / escalation policy updates, notes; the sandbox's
signed webhooks parse back as our own changes; every request is valid for the REST spec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.connectors.base import RecordNotFound, ToolError
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import STATE, PagerDutyConfig
from incident_sync.sandbox.pagerduty.store import user_id
from incident_sync.syncmodel.events import ChangeKind
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.pagerduty.helpers import FROM, SECRET, TOKEN, config
from tests.unit.connectors.sandbox_harness import Harness, running

SPEC = "pagerduty-rest-openapiv3.json"


@pytest.fixture
async def pd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        return build_app(
            PagerDutyConfig(
                api_token=TOKEN,
                api_user=FROM,
                webhook_url=hook,
                webhook_secret=SECRET,
                webhook_backoff_s=(0.05,),
            )
        )

    async with running(build) as harness:
        yield harness


@pytest.fixture
async def connector(pd: Harness) -> AsyncIterator[PagerDutyConnector]:
    conn = PagerDutyConnector(config(pd.url, resolution="Resolved by incident-sync"))
    yield conn
    await conn.aclose()
    problems = [p for r in pd.requests for p in spec(SPEC).problems(r)]
    assert problems == []


async def ui(pd: Harness, method: str, path: str, **body: object) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=pd.url) as client:
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        data: dict[str, object] = response.json() if response.content else {}
        return data


async def test_create_is_keyed_and_found_again(pd: Harness, connector: PagerDutyConnector) -> None:
    record = await connector.create(
        "01HINC", {"title": "Checkout down", "priority": "P2", "assignee": "bob@example.com"}
    )
    assert record.reference == "#1"
    assert await connector.find_linked("01HINC") == record.external_id
    assert await connector.find_linked("01HNONE") is None
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields == {
        "title": "Checkout down",
        "status": "open",
        "priority": "P2",
        "escalation_policy": "Default",
        "assignee": "bob@example.com",
    }
    assert fetched.platform_incident_id == "01HINC"
    creates = [r for r in pd.requests if r.method == "POST" and r.path == "/incidents"]
    body = orjson.loads(creates[0].body)["incident"]
    assert body["incident_key"] == "incident-sync-01HINC"
    assert creates[0].headers["From"] == FROM
    assert creates[0].headers["Authorization"] == f"Token token={TOKEN}"


async def test_a_create_with_an_assignee_and_a_policy_gets_both(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    """PagerDuty refuses `assignments` beside `escalation_policy` on a create: the policy is
    set at creation, the assignee by a reassignment right after."""
    fields = {"title": "Replica lag", "assignee": "alice@example.com"}
    record = await connector.create("01HBOTH", {**fields, "escalation_policy": "Database Team"})
    assert record.fields["assignee"] == "alice@example.com"  # stored: ours, not the on-call's
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields["assignee"] == "alice@example.com"
    assert fetched.fields["escalation_policy"] == "Database Team"
    writes = [(r.method, orjson.loads(r.body)["incident"]) for r in pd.requests if r.body]
    (create,) = [body for method, body in writes if method == "POST"]
    assert create["escalation_policy"]["id"] == "PESCDBA" and "assignments" not in create
    (follow_up,) = [body for method, body in writes if method == "PUT"]
    assert follow_up["assignments"] == [
        {"assignee": {"id": user_id("alice@example.com"), "type": "user_reference"}}
    ]
    # Only one of them: it goes in the create itself, and nothing follows.
    alone = await connector.create("01HALONE", fields)
    assert (await connector.fetch(alone.external_id)).fields["assignee"] == "alice@example.com"
    assert len([r for r in pd.requests if r.method == "PUT"]) == 1


async def test_status_resolve_and_reopen(pd: Harness, connector: PagerDutyConnector) -> None:
    record = await connector.create("01HSTATUS", {"title": "t"})
    assert (await connector.update(record.external_id, {"status": "closed"})).version is not None
    assert (await connector.fetch(record.external_id)).fields["status"] == "closed"
    assert (await connector.update(record.external_id, {"status": "closed"})).version is None
    await connector.update(record.external_id, {"status": "open"})
    view = await ui(pd, "GET", f"/_sandbox/incidents/{record.external_id}")
    assert view["status"] == "triggered"
    puts = [orjson.loads(r.body) for r in pd.requests if r.method == "PUT"]
    assert puts[0]["incident"] == {
        "type": "incident_reference",
        "status": "resolved",
        "resolution": "Resolved by incident-sync",
    }


async def test_priority_assignee_policy_and_notes(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    record = await connector.create("01HFIELDS", {"title": "t"})
    await connector.update(
        record.external_id,
        {"priority": "P1", "assignee": "alice@example.com", "escalation_policy": "Database Team"},
    )
    note_id = await connector.add_comment(record.external_id, "DB failover started")
    assert note_id
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields["priority"] == "P1"
    assert fetched.fields["assignee"] == "alice@example.com"
    assert fetched.fields["escalation_policy"] == "Database Team"
    assert fetched.fields["comment"] == "DB failover started"
    with pytest.raises(ToolError, match="cannot be edited"):
        await connector.edit_comment(record.external_id, note_id, "x")
    for bad in ({"assignee": "ghost@example.com"}, {"escalation_policy": "Nope"}):
        with pytest.raises(ToolError) as caught:
            await connector.update(record.external_id, bad)
        assert not caught.value.retryable


async def test_echo_webhooks_parse_as_our_own_changes(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    record = await connector.create("01HECHO", {"title": "t"})
    await connector.update(record.external_id, {"priority": "P3", "status": "closed"})
    await connector.update(record.external_id, {"assignee": "alice@example.com", "status": "open"})
    await connector.add_comment(record.external_id, "note")
    assert pd.app is not None
    await pd.app[STATE].sender.drain()
    me = pd.app[STATE].store.user_by_email(FROM)
    assert me is not None
    events = []
    for hook in pd.webhooks():
        headers = httpx.Headers(hook.headers)
        connector.verify(headers, hook.body)
        events.extend(connector.parse(headers, hook.body))
    assert {e.actor for e in events} == {me.id}
    kinds = [(e.kind, tuple(sorted(e.changes)) or e.only_fields) for e in events]
    assert kinds == [
        (ChangeKind.CREATED, ("escalation_policy", "status", "title")),
        (ChangeKind.UPDATED, ("priority",)),
        (ChangeKind.UPDATED, ("status",)),
        (ChangeKind.REFRESH, ("assignee", "escalation_policy")),
        (ChangeKind.UPDATED, ("status",)),
        (ChangeKind.UPDATED, ("comment",)),
    ]
    assert all(e.platform_incident_id == "01HECHO" for e in events if e.comment is None)
    assert len({e.delivery_id for e in events}) == len(events)


async def test_errors_are_classified(pd: Harness, connector: PagerDutyConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("QNOPE")
    await ui(pd, "POST", "/_sandbox/faults", fail_status=429, fail_count=1, retry_after_s=3)
    with pytest.raises(ToolError) as caught:
        await connector.create("01HLIMIT", {"title": "t"})
    assert caught.value.retryable and caught.value.retry_after_s == 3.0
    no_from = PagerDutyConnector(config(pd.url).model_copy(update={"username": "x@example.com"}))
    with pytest.raises(ToolError, match="Requester User Not Found") as caught:
        await no_from.create("01HFROM", {"title": "t"})
    assert caught.value.status == 400 and not caught.value.retryable
    await no_from.aclose()
    await connector.test_connection()
