"""The ServiceNow sandbox over real loopback HTTP: Table API, auth, rate limit, webhooks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from incident_sync.sandbox.servicenow.app import build_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from tests.vendorfiles import vendor_file

SECRET = "sn-secret"
USERS = {"incident-sync": "secret", "john.smith": "pw"}
AUTH = httpx.BasicAuth("incident-sync", "secret")
TABLE = "/api/now/table/incident"
GLIDE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class Receiver:
    def __init__(self) -> None:
        self.got: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self.app = web.Application()
        self.app.router.add_post("/hook", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        await self.got.put((dict(request.headers), await request.read()))
        return web.Response(status=200)

    async def next(self) -> Any:
        headers, raw = await asyncio.wait_for(self.got.get(), 5)
        digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
        assert headers["X-ServiceNow-Signature"] == "sha256=" + base64.b64encode(digest).decode()
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-ServiceNow-Delivery"])
        assert headers["Content-Type"] == "application/json"
        return json.loads(raw)


@contextlib.asynccontextmanager
async def sandbox(**overrides) -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:
    receiver = Receiver()
    async with serving(receiver.app) as hook_base:
        config = ServiceNowConfig(
            users=USERS, webhook_url=hook_base + "/hook", webhook_secret=SECRET, **overrides
        )
        async with serving(build_app(config)) as base, httpx.AsyncClient(base_url=base) as client:
            yield client, receiver


@pytest.fixture
async def sn() -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:
    async with sandbox(oauth_clients={"cid": ("csecret", "")}) as pair:
        yield pair


async def insert(client: httpx.AsyncClient, **fields) -> Any:
    resp = await client.post(TABLE, json={"short_description": "DB down", **fields}, auth=AUTH)
    assert resp.status_code == 201, resp.text
    return resp.json()["result"]


async def test_auth_required(sn):
    client, _ = sn
    for auth in (None, httpx.BasicAuth("incident-sync", "wrong")):
        resp = await client.get(TABLE, auth=auth)
        assert resp.status_code == 401
        assert resp.json()["status"] == "failure" and resp.json()["error"]["message"]


async def test_insert_has_the_sample_shape(sn):
    client, _ = sn
    record = await insert(client, impact="1", urgency="2", caller_id="abc", work_notes="first")
    path = vendor_file("servicenow", "samples", "rest_table_get_incident_by_sys_id_response.json")
    sample = json.loads(path.read_text())
    assert set(record) == set(sample["result"]) | {"u_incident_io_id"}
    assert all(isinstance(v, (str, dict)) for v in record.values())
    assert re.fullmatch(r"[0-9a-f]{32}", record["sys_id"])
    assert record["number"] == "INC0010001"
    assert record["priority"] == "2"
    assert record["state"] == record["incident_state"] == "1"
    assert record["sys_mod_count"] == "0" and record["sys_updated_by"] == "incident-sync"
    assert GLIDE.match(record["sys_created_on"]) and GLIDE.match(record["sys_updated_on"])
    assert record["work_notes"] == ""
    assert record["caller_id"]["value"] == "abc"
    assert record["caller_id"]["link"].endswith("/api/now/table/sys_user/abc")
    assert record["opened_by"]["value"]
    bare = await client.get(
        f"{TABLE}/{record['sys_id']}", params={"sysparm_exclude_reference_link": "true"}, auth=AUTH
    )
    assert bare.json()["result"]["caller_id"] == "abc"


async def test_update_journal_and_mod_count(sn):
    client, _ = sn
    record = await insert(client)
    url = f"{TABLE}/{record['sys_id']}"
    body = {"state": "2", "work_notes": "note A", "bogus_field": "x", "priority": "1"}
    updated = (await client.patch(url, json=body, auth=AUTH)).json()["result"]
    assert updated["state"] == updated["incident_state"] == "2"
    assert updated["sys_mod_count"] == "1" and updated["work_notes"] == ""
    assert updated["priority"] == "5" and "bogus_field" not in updated
    await client.put(url, json={"work_notes": "note B"}, auth=AUTH)
    same = (await client.patch(url, json={"state": "2"}, auth=AUTH)).json()["result"]
    assert same["sys_mod_count"] == "2"  # nothing changed: no update happened
    query = f"element_id={record['sys_id']}^element=work_notes^ORDERBYsys_created_on"
    notes = await client.get(
        "/api/now/table/sys_journal_field", params={"sysparm_query": query}, auth=AUTH
    )
    entries = notes.json()["result"]
    assert [e["value"] for e in entries] == ["note A", "note B"]
    assert entries[0]["sys_created_by"] == "incident-sync" and entries[0]["element"] == "work_notes"
    denied = await client.post("/api/now/table/sys_journal_field", json={}, auth=AUTH)
    assert denied.status_code == 403
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["api_writes"] == {record["sys_id"]: 4}


async def test_not_found_and_versions(sn):
    client, _ = sn
    missing = await client.get(f"{TABLE}/{'0' * 32}", auth=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"message": "No Record found", "detail": missing.json()["error"]["detail"]},
        "status": "failure",
    }
    params = {"sysparm_query": "number=NOPE"}
    v1 = await client.get("/api/now/v1/table/incident", params=params, auth=AUTH)
    assert v1.status_code == 404
    v2 = await client.get("/api/now/v2/table/incident", params=params, auth=AUTH)
    assert v2.status_code == 200 and v2.json() == {"result": []}
    latest = await client.get(TABLE, params=params, auth=AUTH)
    assert latest.status_code == 200 and latest.json() == {"result": []}


async def test_list_query_paging_and_fields(sn):
    client, _ = sn
    for n, urgency in enumerate(("1", "2", "3")):
        await insert(client, short_description=f"item {n}", urgency=urgency, impact="1")
    params = {
        "sysparm_query": "priorityIN1,2^ORDERBYDESCnumber",
        "sysparm_limit": "1",
        "sysparm_fields": "number,priority",
    }
    resp = await client.get(TABLE, params=params, auth=AUTH)
    assert resp.json() == {"result": [{"number": "INC0010002", "priority": "2"}]}
    assert resp.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in resp.headers["Link"] and 'rel="first"' in resp.headers["Link"]
    params["sysparm_offset"] = "1"
    resp = await client.get(TABLE, params=params, auth=AUTH)
    assert resp.json()["result"] == [{"number": "INC0010001", "priority": "1"}]
    assert 'rel="next"' not in resp.headers["Link"]
    like = {
        "sysparm_query": "short_descriptionLIKEitem 2^ORshort_descriptionSTARTSWITHitem 0",
        "sysparm_fields": "number",
    }
    got = (await client.get(TABLE, params=like, auth=AUTH)).json()["result"]
    assert sorted(r["number"] for r in got) == ["INC0010001", "INC0010003"]
    shown = await client.get(
        TABLE,
        params={"sysparm_display_value": "all", "sysparm_fields": "state", "sysparm_limit": "1"},
        auth=AUTH,
    )
    assert shown.json()["result"] == [{"state": {"display_value": "New", "value": "1"}}]


async def test_oauth_flows(sn):
    client, _ = sn
    form = {
        "grant_type": "password",
        "client_id": "cid",
        "client_secret": "csecret",
        "username": "john.smith",
        "password": "pw",
    }
    token = (await client.post("/oauth_token.do", data=form)).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1799
    assert set(token) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    created = await client.post(TABLE, json={"short_description": "x"}, headers=bearer)
    assert created.json()["result"]["sys_updated_by"] == "john.smith"
    bad = await client.post("/oauth_token.do", data={**form, "password": "nope"})
    assert bad.status_code == 401
    cc = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret"}
    machine = (await client.post("/oauth_token.do", data=cc)).json()
    headers = {"Authorization": f"Bearer {machine['access_token']}"}
    assert (await client.get(TABLE, headers=headers)).status_code == 200
    refresh = {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "csecret",
        "refresh_token": token["refresh_token"],
    }
    assert (await client.post("/oauth_token.do", data=refresh)).status_code == 200
    invalid = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(TABLE, headers=invalid)).status_code == 401


async def test_rate_limit():
    async with sandbox(rate_limit_per_hour=2) as (client, _):
        ok = await client.get(TABLE, auth=AUTH)
        assert ok.headers["X-RateLimit-Limit"] == "2" and ok.headers["X-RateLimit-Rule"]
        await client.get(TABLE, auth=AUTH)
        limited = await client.get(TABLE, auth=AUTH)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
        assert int(limited.headers["X-RateLimit-Reset"]) > 1_700_000_000
        assert limited.json() == {
            "error": {
                "message": "Rate limit exceeded",
                "detail": "Rate limit of 2 requests per hour for Table API exceeded",
            },
            "status": "failure",
        }
        other = await client.get(TABLE, auth=httpx.BasicAuth("john.smith", "pw"))
        assert other.status_code == 200  # counted per user


async def test_business_rule_webhooks_echo_api_writes(sn):
    client, receiver = sn
    record = await insert(client, impact="2", urgency="2", u_incident_io_id="01ABC")
    inserted = await receiver.next()
    assert inserted["event"] == "incident.inserted" and inserted["table"] == "incident"
    assert inserted["sys_id"] == record["sys_id"] and inserted["number"] == "INC0010001"
    assert inserted["sys_mod_count"] == "0" and inserted["sys_updated_by"] == "incident-sync"
    assert set(inserted["updated_fields"]) == {
        "short_description",
        "impact",
        "urgency",
        "priority",
        "u_incident_io_id",
    }
    assert inserted["old_values"] == {}
    assert inserted["current"]["priority"] == "3" and inserted["current"]["work_notes"] == ""
    assert list(inserted) == [
        "event",
        "table",
        "sys_id",
        "number",
        "sys_updated_on",
        "sys_updated_by",
        "sys_mod_count",
        "updated_fields",
        "old_values",
        "current",
    ]

    url = f"{TABLE}/{record['sys_id']}"
    await client.patch(
        url,
        json={
            "state": "6",
            "close_code": "Solved (Permanently)",
            "close_notes": "fixed",
            "work_notes": "done",
        },
        auth=AUTH,
    )
    updated = await receiver.next()
    assert updated["event"] == "incident.updated" and updated["sys_mod_count"] == "1"
    assert {"state", "incident_state", "work_notes", "close_code", "close_notes"} <= set(
        updated["updated_fields"]
    )
    assert updated["old_values"]["state"] == "1" and updated["old_values"]["work_notes"] == ""
    assert updated["current"]["work_notes"] == "done" and updated["current"]["state"] == "6"
    assert set(updated["old_values"]) == set(updated["updated_fields"])

    await client.patch(
        f"/_sandbox/table/incident/{record['sys_id']}",
        json={"work_notes": "from a human", "assigned_to": "u1"},
    )
    human = await receiver.next()
    assert human["sys_updated_by"] == "john.smith"
    assert human["updated_fields"] == ["assigned_to", "work_notes"]
    assert human["current"]["assigned_to"] == "u1"
    assert human["old_values"]["work_notes"] == "done"

    assert (await client.delete(url, auth=AUTH)).status_code == 204
    assert (await receiver.next())["event"] == "incident.deleted"
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["api_writes"] == {record["sys_id"]: 3}
    assert [e["op"] for e in stats["api_write_log"]] == ["insert", "update", "delete"]
    assert stats["webhooks_sent"] == 4 and stats["webhooks_failed"] == 0


async def test_control_endpoints(sn):
    client, receiver = sn
    made = await client.post(
        "/_sandbox/table/incident", json={"short_description": "human", "work_notes": "hello"}
    )
    assert made.status_code == 201
    record = made.json()["result"]
    assert record["work_notes"] == "hello"  # the form shows the latest entry
    assert record["sys_created_by"] == "john.smith" and record["caller_id"]
    fields = (await receiver.next())["updated_fields"]
    assert fields == ["caller_id", "short_description", "work_notes"]
    shown = (await client.get(f"/_sandbox/table/incident/{record['sys_id']}")).json()
    assert [n["value"] for n in shown["work_notes"]] == ["hello"]
    assert shown["result"]["work_notes_entries"] == shown["work_notes"]
    assert (await client.get("/_sandbox/stats")).json()["api_writes"] == {}
    await client.post("/_sandbox/reset")
    assert (await client.get(TABLE, auth=AUTH)).json() == {"result": []}


async def test_close_fields_data_policy():
    async with sandbox(require_close_fields=True) as (client, _):
        record = await insert(client)
        resp = await client.patch(f"{TABLE}/{record['sys_id']}", json={"state": "6"}, auth=AUTH)
        assert resp.status_code == 403 and "mandatory" in resp.json()["error"]["detail"]
        body = {"state": "6", "close_code": "Solved", "close_notes": "ok"}
        resp = await client.patch(f"{TABLE}/{record['sys_id']}", json=body, auth=AUTH)
        assert resp.status_code == 200 and resp.json()["result"]["resolved_at"]
