"""The incident.io sandbox over real loopback HTTP: API shapes, idempotency, webhooks."""

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

from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.sandbox.incidentio.webhooks import svix_signature
from tests.vendorfiles import vendor_file

KEY = "test-key"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AUTH = {"Authorization": f"Bearer {KEY}"}
REQUIRED = {
    "incident_status",
    "id",
    "reference",
    "name",
    "visibility",
    "mode",
    "creator",
    "incident_role_assignments",
    "custom_field_entries",
    "slack_team_id",
    "slack_channel_id",
    "created_at",
    "updated_at",
}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def sample(name: str) -> Any:
    return json.loads(vendor_file("incidentio", "samples", name).read_text())


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
    """A tiny webhook endpoint that records raw deliveries; can fail the first N."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.got: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self.fail_first, self.status = fail_first, status
        self.app = web.Application()
        self.app.router.add_post("/hook", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=self.status)
        await self.got.put((dict(request.headers), await request.read()))
        return web.Response(status=204)

    async def next(self) -> tuple[dict[str, str], bytes]:
        return await asyncio.wait_for(self.got.get(), 5)


def verify_svix(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(part.partition(",")[2], expected)
        for part in headers["webhook-signature"].split(" ")
        if part.startswith("v1,")
    )


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    async with serving(receiver.app) as url:
        yield receiver, url + "/hook"


@pytest.fixture
async def inc(hooks) -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:
    receiver, hook_url = hooks
    config = IncidentioConfig(api_key=KEY, signing_secret=SECRET, webhook_url=hook_url)
    async with serving(build_app(config)) as base, httpx.AsyncClient(base_url=base) as client:
        yield client, receiver


async def create(client: httpx.AsyncClient, key: str = "k1", **extra) -> Any:
    body = {"idempotency_key": key, "visibility": "public", "name": "DB down", **extra}
    resp = await client.post("/v2/incidents", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()["incident"]


def test_svix_signature_matches_the_reference_vector():
    vector = sample("signature_vector_svix.json")
    h = vector["headers"]
    sig = svix_signature(
        vector["secret"], h["webhook-id"], int(h["webhook-timestamp"]), vector["body"].encode()
    )
    assert sig == h["webhook-signature"]


async def test_auth_is_required(inc):
    client, _ = inc
    resp = await client.get("/v2/incidents", headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401
    body = resp.json()
    assert body["type"] == "authentication_error" and body["status"] == 401
    assert body["request_id"] and body["errors"][0]["code"] and body["errors"][0]["message"]


async def test_catalog_endpoints(inc):
    client, _ = inc
    statuses = (await client.get("/v1/incident_statuses", headers=AUTH)).json()["incident_statuses"]
    by_name = {s["name"]: s for s in statuses}
    assert by_name["Triage"]["category"] == "triage" and by_name["Fixing"]["category"] == "live"
    assert by_name["Post-incident"]["category"] == "learning"
    assert by_name["Closed"]["category"] == "closed"
    assert by_name["Declined"]["category"] == "declined"
    assert set(statuses[0]) == set(
        sample("rest_v2_incidents_show_response_200.json")["incident"]["incident_status"]
    )
    severities = (await client.get("/v1/severities", headers=AUTH)).json()["severities"]
    assert {s["name"]: s["rank"] for s in severities} == {"Critical": 3, "Major": 2, "Minor": 1}
    fields = (await client.get("/v2/custom_fields", headers=AUTH)).json()["custom_fields"]
    assert [f["name"] for f in fields] == [
        "External work notes",
        "Priority",
        "Affected team",
        "Team",
        "Affected service",
    ]
    kinds = ["text", "single_select", "single_select", "single_select", "text"]
    assert [f["field_type"] for f in fields] == kinds
    team = fields[3]
    entries = await client.get(
        "/v3/catalog_entries",
        params={"catalog_type_id": team["catalog_type_id"], "identifier": "team-search"},
        headers=AUTH,
    )
    assert [e["name"] for e in entries.json()["catalog_entries"]] == ["Search"]
    options = (
        await client.get(
            "/v1/custom_field_options", params={"custom_field_id": fields[1]["id"]}, headers=AUTH
        )
    ).json()["custom_field_options"]
    assert [o["value"] for o in options] == ["P1", "P2", "P3", "P4", "P5"]
    roles = (await client.get("/v2/incident_roles", headers=AUTH)).json()["incident_roles"]
    assert [r["role_type"] for r in roles] == ["lead", "reporter"]


async def test_priority_option_and_lead_assignment_through_an_edit(inc):
    client, _ = inc
    incident = await create(client)
    fields = (await client.get("/v2/custom_fields", headers=AUTH)).json()["custom_fields"]
    priority = next(f for f in fields if f["name"] == "Priority")
    options = (
        await client.get(
            "/v1/custom_field_options", params={"custom_field_id": priority["id"]}, headers=AUTH
        )
    ).json()["custom_field_options"]
    lead = (await client.get("/v2/incident_roles", headers=AUTH)).json()["incident_roles"][0]
    body = {
        "notify_incident_channel": False,
        "incident": {
            "custom_field_entries": [
                {
                    "custom_field_id": priority["id"],
                    "values": [{"value_option_id": options[1]["id"]}],
                }
            ],
            "incident_role_assignments": [
                {"incident_role_id": lead["id"], "assignee": {"email": "Bob@example.com"}}
            ],
        },
    }
    r = await client.post(f"/v2/incidents/{incident['id']}/actions/edit", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    edited = r.json()["incident"]
    entry = next(
        e for e in edited["custom_field_entries"] if e["custom_field"]["name"] == "Priority"
    )
    assert entry["values"] == [{"value_option": options[1]}]
    (assignment,) = edited["incident_role_assignments"]
    assert assignment["role"]["role_type"] == "lead"
    assert assignment["assignee"]["email"] == "bob@example.com"
    body["incident"] = {
        "incident_role_assignments": [
            {"incident_role_id": lead["id"], "assignee": {"email": "nobody@example.com"}}
        ]
    }
    r = await client.post(f"/v2/incidents/{incident['id']}/actions/edit", json=body, headers=AUTH)
    assert r.status_code == 422 and "User not found" in r.text


async def test_created_incident_has_the_spec_shape(inc):
    client, _ = inc
    incident = await create(client, summary="sad")
    sample_keys = set(sample("rest_v2_incidents_show_response_200.json")["incident"])
    assert REQUIRED <= set(incident) <= sample_keys
    assert re.fullmatch(r"[0-9A-Z]{26}", incident["id"])
    assert incident["reference"] == "INC-1"
    assert TS.match(incident["created_at"]) and TS.match(incident["updated_at"])
    assert incident["incident_status"]["category"] == "live"
    assert incident["creator"]["api_key"]["name"]
    shown = await client.get(f"/v2/incidents/{incident['id']}", headers=AUTH)
    assert shown.json()["incident"] == incident
    by_number = await client.get("/v2/incidents/1", headers=AUTH)
    assert by_number.json()["incident"]["id"] == incident["id"]


async def test_idempotent_create_and_write_counts(inc):
    client, _ = inc
    first = await create(client, key="same")
    again = await create(client, key="same", name="other")
    assert again["id"] == first["id"]
    listed = (await client.get("/v2/incidents", headers=AUTH)).json()
    assert listed["pagination_meta"]["total_record_count"] == 1
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["api_writes"] == {first["id"]: 2}
    assert [e["op"] for e in stats["api_write_log"]] == ["create", "create_replay"]


async def test_validation_and_not_found_errors(inc):
    client, _ = inc
    resp = await client.post("/v2/incidents", json={"idempotency_key": "x"}, headers=AUTH)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["source"]["field"] == "visibility"
    incident = await create(client)
    edit = f"/v2/incidents/{incident['id']}/actions/edit"
    resp = await client.post(edit, json={"incident": {"name": "x"}}, headers=AUTH)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["source"]["field"] == "notify_incident_channel"
    body = {"incident": {"severity_id": "nope"}, "notify_incident_channel": False}
    resp = await client.post(edit, json=body, headers=AUTH)
    assert resp.json()["errors"][0]["source"]["field"] == "incident.severity_id"
    resp = await client.get("/v2/incidents/01ZZZZZZZZZZZZZZZZZZZZZZZZ", headers=AUTH)
    assert resp.status_code == 404 and resp.json()["type"] == "not_found"


async def test_edit_changes_only_given_fields_and_updated_at(inc):
    client, _ = inc
    incident = await create(client, summary="keep me")
    fields = (await client.get("/v2/custom_fields", headers=AUTH)).json()["custom_fields"]
    major = next(
        s
        for s in (await client.get("/v1/severities", headers=AUTH)).json()["severities"]
        if s["name"] == "Major"
    )
    body = {
        "incident": {
            "name": "DB very down",
            "severity_id": major["id"],
            "custom_field_entries": [
                {"custom_field_id": fields[0]["id"], "values": [{"value_text": "note 1"}]}
            ],
        },
        "notify_incident_channel": False,
    }
    url = f"/v2/incidents/{incident['id']}/actions/edit"
    edited = (await client.post(url, json=body, headers=AUTH)).json()["incident"]
    assert edited["name"] == "DB very down" and edited["summary"] == "keep me"
    assert edited["severity"]["name"] == "Major"
    assert edited["custom_field_entries"][0]["values"] == [{"value_text": "note 1"}]
    assert edited["custom_field_entries"][0]["custom_field"]["id"] == fields[0]["id"]
    assert edited["updated_at"] > incident["updated_at"]
    assert edited["created_at"] == incident["created_at"]


async def test_list_pagination(inc):
    client, _ = inc
    ids = [(await create(client, key=f"k{n}"))["id"] for n in range(3)]
    page = (await client.get("/v2/incidents", params={"page_size": 2}, headers=AUTH)).json()
    assert [i["id"] for i in page["incidents"]] == ids[::-1][:2]  # newest first
    meta = page["pagination_meta"]
    assert meta == {"after": ids[1], "page_size": 2, "total_record_count": 3}
    params = {"page_size": 2, "after": meta["after"]}
    rest = (await client.get("/v2/incidents", params=params, headers=AUTH)).json()
    assert [i["id"] for i in rest["incidents"]] == [ids[0]]
    assert "after" not in rest["pagination_meta"]
    too_big = await client.get("/v2/incidents", params={"page_size": 251}, headers=AUTH)
    assert too_big.status_code == 422


async def test_api_writes_are_echoed_as_signed_webhooks(inc):
    client, receiver = inc
    incident = await create(client)
    headers, raw = await receiver.next()
    assert verify_svix(SECRET, headers, raw)
    assert re.fullmatch(r"msg_\S+", headers["webhook-id"])
    body = json.loads(raw)
    assert body["event_type"] == "public_incident.incident_created_v2"
    assert body["public_incident.incident_created_v2"]["id"] == incident["id"]

    statuses = (await client.get("/v1/incident_statuses", headers=AUTH)).json()
    fixing = next(s for s in statuses["incident_statuses"] if s["name"] == "Fixing")
    edit = {"incident": {"incident_status_id": fixing["id"]}, "notify_incident_channel": True}
    await client.post(f"/v2/incidents/{incident['id']}/actions/edit", json=edit, headers=AUTH)
    updated = [await receiver.next(), await receiver.next()]
    assert all(verify_svix(SECRET, h, b) for h, b in updated)
    types = [json.loads(b)["event_type"] for _, b in updated]
    assert types == [
        "public_incident.incident_updated_v2",
        "public_incident.incident_status_updated_v2",
    ]
    status_event = json.loads(updated[1][1])["public_incident.incident_status_updated_v2"]
    assert status_event["new_status"]["name"] == "Fixing"
    assert status_event["previous_status"]["name"] == "Investigating"
    assert set(status_event) == {"incident", "new_status", "previous_status", "message"}
    # A no-op edit is counted as a write but announces nothing.
    await client.post(f"/v2/incidents/{incident['id']}/actions/edit", json=edit, headers=AUTH)
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["api_writes"][incident["id"]] == 3
    assert stats["webhooks_sent"] == 3 and stats["webhooks_pending"] == 0


async def test_ui_actions_send_webhooks_but_are_not_api_writes(inc):
    client, receiver = inc
    resp = await client.post(
        "/_sandbox/incidents", json={"name": "UI made", "severity": "Critical", "status": "triage"}
    )
    incident = resp.json()["incident"]
    assert incident["severity"]["name"] == "Critical"
    assert incident["incident_status"]["name"] == "Triage"
    assert incident["creator"]["user"]["name"]
    _, raw = await receiver.next()
    assert json.loads(raw)["event_type"] == "public_incident.incident_created_v2"
    update = {"update_message": "We found it", "status": "Monitoring", "summary": "root cause"}
    await client.post(f"/_sandbox/incidents/{incident['id']}/edit", json=update)
    updated = json.loads((await receiver.next())[1])["public_incident.incident_updated_v2"]
    assert updated["most_recent_update_message"] == "We found it"
    assert updated["summary"] == "root cause"
    status = json.loads((await receiver.next())[1])["public_incident.incident_status_updated_v2"]
    assert status["message"] == "We found it"
    shown = (await client.get(f"/_sandbox/incidents/{incident['id']}")).json()["incident"]
    assert shown["most_recent_update_message"] == "We found it"
    api_view = (await client.get(f"/v2/incidents/{incident['id']}", headers=AUTH)).json()
    assert "most_recent_update_message" not in api_view["incident"]
    assert (await client.get("/_sandbox/stats")).json()["api_writes"] == {}


async def test_private_incidents_only_reveal_their_id(inc):
    client, receiver = inc
    incident = await create(client, visibility="private")
    _, raw = await receiver.next()
    assert json.loads(raw) == {
        "event_type": "private_incident.incident_created_v2",
        "private_incident.incident_created_v2": {"id": incident["id"]},
    }


async def test_reset_clears_everything(inc):
    client, receiver = inc
    await create(client)
    await receiver.next()
    await client.post("/_sandbox/reset")
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["api_writes"] == {} and stats["webhooks_sent"] == 0
    assert (await client.get("/v2/incidents", headers=AUTH)).json()["incidents"] == []
    assert (await create(client))["reference"] == "INC-1"


async def test_failed_deliveries_are_retried_then_given_up():
    flaky, broken = Receiver(fail_first=2), Receiver(fail_first=99, status=500)
    async with serving(flaky.app) as flaky_url, serving(broken.app) as broken_url:
        for url, sent, failed in ((flaky_url, 1, 0), (broken_url, 0, 1)):
            config = IncidentioConfig(
                api_key=KEY,
                signing_secret=SECRET,
                webhook_url=url + "/hook",
                webhook_backoff_s=(0.01, 0.02),
            )
            async with serving(build_app(config)) as base, httpx.AsyncClient(base_url=base) as c:
                await create(c)
                for _ in range(100):
                    stats = (await c.get("/_sandbox/stats")).json()
                    if stats["webhooks_pending"] == 0:
                        break
                    await asyncio.sleep(0.02)
                assert (stats["webhooks_sent"], stats["webhooks_failed"]) == (sent, failed)
        assert flaky.got.qsize() == 1
