"""The Jira and PagerDuty sandboxes answer like the vendors where the connectors do not go:
validation errors, auth, workflow rules, dedup keys and the webhooks a person's edit sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.sandbox.jira.app import build_app as build_jira
from incident_sync.sandbox.jira.state import STATE as JIRA_STATE
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.pagerduty.app import build_app as build_pd
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from tests.unit.connectors.sandbox_harness import Harness, running

JIRA_AUTH = ("incident-sync@example.com", "sandbox-token")
PD_HEADERS = {
    "Authorization": "Token token=sandbox-pd-token",
    "From": "incident-sync@example.com",
    "Accept": "application/vnd.pagerduty+json;version=2",
}


@pytest.fixture
async def jira() -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    def build(hook: str) -> web.Application:
        return build_jira(JiraConfig(webhook_url=hook, webhook_backoff_s=(0.05,)))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as client:
        yield client, harness


@pytest.fixture
async def pd() -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    def build(hook: str) -> web.Application:
        return build_pd(PagerDutyConfig(webhook_url=hook, webhook_backoff_s=(0.05,)))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as client:
        yield client, harness


async def jira_issue(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Incident"}, **fields}}
    r = await client.post("/rest/api/3/issue", json=body, auth=JIRA_AUTH)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_jira_validation_answers_like_jira(jira: tuple[httpx.AsyncClient, Harness]) -> None:
    client, _ = jira
    r = await client.get("/rest/api/3/myself")
    assert r.status_code == 401
    r = await client.post(
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Incident"}}},
        auth=JIRA_AUTH,
    )
    assert r.status_code == 400 and "summary" in r.json()["errors"]
    issue = await jira_issue(client, summary="s")
    r = await client.put(
        f"/rest/api/3/issue/{issue['key']}",
        json={"fields": {"description": "plain text is v2"}},
        auth=JIRA_AUTH,
    )
    assert r.status_code == 400 and "Atlassian Document" in r.json()["errors"]["description"]
    r = await client.put(
        f"/rest/api/3/issue/{issue['id']}", json={"fields": {"status": {"id": "3"}}}, auth=JIRA_AUTH
    )
    assert r.status_code == 400 and "cannot be set" in r.json()["errors"]["status"]
    r = await client.post(
        f"/rest/api/3/issue/{issue['id']}/transitions",
        json={"transition": {"id": "31"}},
        auth=JIRA_AUTH,
    )
    assert r.status_code == 400 and "Resolution is required" in r.json()["errors"]["resolution"]
    r = await client.post(
        f"/rest/api/3/issue/{issue['id']}/transitions",
        json={"transition": {"id": "41"}},  # Reopen is not available from To Do
        auth=JIRA_AUTH,
    )
    assert r.status_code == 400
    r = await client.get("/rest/api/3/search/jql", params={"jql": "summary ~ 'x'"}, auth=JIRA_AUTH)
    assert r.status_code == 400 and "JQL" in r.json()["errorMessages"][0]
    r = await client.get("/rest/api/3/issue/OPS-999", auth=JIRA_AUTH)
    assert r.status_code == 404 and r.json()["errorMessages"]


async def test_a_jira_comment_sends_issue_updated_and_comment_created(
    jira: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, harness = jira
    issue = await jira_issue(client, summary="s")
    r = await client.post(f"/_sandbox/issues/{issue['id']}/comments", json={"body": "hello"})
    assert r.status_code == 201
    r = await client.post(
        f"/_sandbox/issues/{issue['id']}/edit", json={"status": "Done", "priority": "High"}
    )
    assert r.json()["status"] == "Done"
    assert harness.app is not None
    await harness.app[JIRA_STATE].sender.drain()
    bodies = [orjson.loads(h.body) for h in harness.webhooks()]
    events = [(b["webhookEvent"], b.get("issue_event_type_name")) for b in bodies]
    assert events == [
        ("jira:issue_created", "issue_created"),
        ("jira:issue_updated", "issue_commented"),
        ("comment_created", None),
        ("jira:issue_updated", "issue_updated"),
    ]
    assert bodies[2]["comment"]["body"] == "hello"  # v2 representation: wiki text
    assert bodies[1]["issue"]["self"].endswith(f"/rest/api/2/issue/{issue['id']}")
    fields = {i["field"] for i in bodies[3]["changelog"]["items"]}
    assert fields == {"priority", "status", "resolution"}
    assert len({h.headers["X-Atlassian-Webhook-Identifier"] for h in harness.webhooks()}) == 4


async def test_jira_keeps_a_comments_visibility_property_and_shows_it(
    jira: tuple[httpx.AsyncClient, Harness],
) -> None:
    """JSM: the `sd.public.comment` property `{"internal": true}` makes an internal note;
    clients read it back with `expand=properties` or the comment properties routes, and the
    comment's `jsdPublic` (in answers and webhooks) follows it."""
    client, harness = jira
    issue = await jira_issue(client, summary="s")
    path = f"/rest/api/3/issue/{issue['id']}/comment"
    doc = {"type": "doc", "version": 1, "content": []}
    internal = {"key": "sd.public.comment", "value": {"internal": True}}
    r = await client.post(path, json={"body": doc, "properties": [internal]}, auth=JIRA_AUTH)
    assert r.status_code == 201 and r.json()["jsdPublic"] is False
    note = r.json()["id"]
    r = await client.post(path, json={"body": doc}, auth=JIRA_AUTH)
    reply = r.json()["id"]
    assert r.json()["jsdPublic"] is True
    # an edit without properties keeps them: they belong to the comment
    r = await client.put(f"{path}/{note}", json={"body": doc}, auth=JIRA_AUTH)
    assert r.status_code == 200 and r.json()["jsdPublic"] is False
    r = await client.get(f"{path}/{note}", params={"expand": "properties"}, auth=JIRA_AUTH)
    assert r.json()["properties"] == [internal]
    assert "properties" not in (await client.get(f"{path}/{note}", auth=JIRA_AUTH)).json()
    r = await client.get(f"/rest/api/3/comment/{note}/properties/sd.public.comment", auth=JIRA_AUTH)
    assert r.status_code == 200 and r.json() == internal
    r = await client.get(f"/rest/api/3/comment/{note}/properties", auth=JIRA_AUTH)
    assert [k["key"] for k in r.json()["keys"]] == ["sd.public.comment"]
    r = await client.get(
        f"/rest/api/3/comment/{reply}/properties/sd.public.comment", auth=JIRA_AUTH
    )
    assert r.status_code == 404 and r.json()["errorMessages"]
    assert (
        await client.get("/rest/api/3/comment/99999/properties", auth=JIRA_AUTH)
    ).status_code == 404
    for bad in ({"value": 1}, {"key": "k"}, {"key": "k", "value": 1, "x": 2}, "k"):
        r = await client.post(path, json={"body": doc, "properties": [bad]}, auth=JIRA_AUTH)
        assert r.status_code == 400 and r.json()["errorMessages"]
    view = (await client.get(f"/_sandbox/issues/{issue['id']}")).json()
    assert [c["internal"] for c in view["comments"]] == [True, False]
    assert harness.app is not None
    await harness.app[JIRA_STATE].sender.drain()
    hooks = [orjson.loads(h.body) for h in harness.webhooks()]
    created = [b["comment"]["jsdPublic"] for b in hooks if b["webhookEvent"] == "comment_created"]
    assert created == [False, True]


async def test_pagerduty_rules(pd: tuple[httpx.AsyncClient, Harness]) -> None:
    client, _ = pd
    body = {
        "incident": {
            "type": "incident",
            "title": "t",
            "service": {"id": "PSVC001", "type": "service_reference"},
            "incident_key": "k-1",
        }
    }
    r = await client.post("/incidents", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == 2006
    r = await client.post("/incidents", json=body, headers={**PD_HEADERS, "From": "x@y.z"})
    assert r.status_code == 400 and r.json()["error"]["errors"] == ["Requester User Not Found"]
    r = await client.post("/incidents", json=body, headers=PD_HEADERS)
    assert r.status_code == 201
    incident = r.json()["incident"]
    assert incident["assignments"][0]["assignee"]["summary"] == "Carol Oncall"
    r = await client.post("/incidents", json=body, headers=PD_HEADERS)
    assert r.status_code == 400 and "dedup key" in r.json()["error"]["errors"][0]
    resolve = {"incident": {"type": "incident_reference", "status": "resolved"}}
    r = await client.put(f"/incidents/{incident['id']}", json=resolve, headers=PD_HEADERS)
    assert r.status_code == 200 and r.json()["incident"]["status"] == "resolved"
    r = await client.put(f"/incidents/{incident['id']}", json=resolve, headers=PD_HEADERS)
    assert r.status_code == 400 and r.json()["error"]["message"] == "Incident Already Resolved"
    r = await client.post("/incidents", json=body, headers=PD_HEADERS)
    assert r.status_code == 201  # the key is free again once the first is resolved
    bad = {"incident": {"type": "incident_reference", "priority": "P9"}}
    r = await client.put(f"/incidents/{incident['id']}", json=bad, headers=PD_HEADERS)
    assert r.status_code == 400 and "Priority" in r.json()["error"]["errors"][0]
    # A create may name assignees or an escalation policy, not both (the spec: "Cannot be
    # specified if an escalation policy is given"); an update may.
    both = {
        "escalation_policy": {"id": "PESCDBA", "type": "escalation_policy_reference"},
        "assignments": [{"assignee": {"id": incident["assignments"][0]["assignee"]["id"]}}],
    }
    paired = {"incident": {**body["incident"], "incident_key": "k-2", **both}}
    r = await client.post("/incidents", json=paired, headers=PD_HEADERS)
    assert r.status_code == 400
    assert (
        r.json()["error"]["code"] == 2001 and "escalation policy" in r.json()["error"]["errors"][0]
    )
    update = {"incident": {"type": "incident_reference", **both}}
    r = await client.put(f"/incidents/{incident['id']}", json=update, headers=PD_HEADERS)
    assert r.status_code == 200
