"""The Jira connector against the Jira sandbox over HTTP: creates with the correlation label,
edits, status through transitions, comments in ADF, search with nextPageToken; the sandbox's
signed echo webhooks parse back as our own changes; every request is valid for the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import RecordNotFound, ToolError
from incident_sync.connectors.jira import signature
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from tests.unit.connectors.jira.helpers import API_EMAIL, API_TOKEN, SECRET, config
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.sandbox_harness import Harness, running

SPEC = "jira-cloud-platform-swagger-v3.v3.json"


@pytest.fixture
async def jira() -> AsyncIterator[Harness]:
    def build(hook: str) -> object:
        return build_app(
            JiraConfig(
                api_users=((API_EMAIL, API_TOKEN),),
                webhook_url=hook,
                webhook_secret=SECRET,
                webhook_backoff_s=(0.05,),
            )
        )

    async with running(build) as harness:  # type: ignore[arg-type]
        yield harness


@pytest.fixture
async def connector(jira: Harness) -> AsyncIterator[JiraConnector]:
    conn = JiraConnector(config(jira.url))
    yield conn
    await conn.aclose()
    problems = [p for r in jira.api_requests("/rest/") for p in spec(SPEC).problems(r)]
    assert problems == []


async def ui(jira: Harness, method: str, path: str, **body: object) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=jira.url) as client:
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        data: dict[str, object] = response.json() if response.content else {}
        return data


async def drain(jira: Harness) -> None:
    assert jira.app is not None
    from incident_sync.sandbox.jira.state import STATE

    await jira.app[STATE].sender.drain()


async def test_create_labels_and_finds_the_issue_again(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create(
        "01HINC",
        {"title": "Checkout down", "description": "500s\n\nsince 10:02", "priority": "P2"},
    )
    assert record.reference == "OPS-1"
    assert await connector.find_linked("01HINC") == record.external_id
    assert await connector.find_linked("01HOTHER") is None
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields["title"] == "Checkout down"
    assert fetched.fields["description"] == "500s\n\nsince 10:02"
    assert fetched.fields["priority"] == "P2"
    assert fetched.fields["status"] == "open"
    assert fetched.platform_incident_id == "01HINC"
    view = await ui(jira, "GET", f"/_sandbox/issues/{record.external_id}")
    assert view["properties"] == {"incident-sync": {"platformIncidentId": "01HINC"}}


async def test_status_moves_through_transitions_with_a_resolution(
    jira: Harness, connector: JiraConnector
) -> None:
    record = await connector.create("01HSTATUS", {"title": "t"})
    await connector.update(record.external_id, {"status": "closed"})
    view = await ui(jira, "GET", f"/_sandbox/issues/{record.external_id}")
    assert view["status"] == "Done"
    await connector.update(record.external_id, {"status": "closed"})  # already there: no call
    await connector.update(record.external_id, {"status": "open"})
    assert (await connector.fetch(record.external_id)).fields["status"] == "open"
    transitions = [
        r for r in jira.requests if r.path.endswith("/transitions") and r.method == "POST"
    ]
    assert len(transitions) == 2
    assert orjson.loads(transitions[0].body)["fields"] == {"resolution": {"id": "10000"}}


async def test_assignee_by_e_mail_and_unassign(jira: Harness, connector: JiraConnector) -> None:
    record = await connector.create("01HASSIGN", {"title": "t", "assignee": "bob@example.com"})
    assert (await connector.fetch(record.external_id)).fields["assignee"] == "bob@example.com"
    await connector.update(record.external_id, {"assignee": None})
    assert (await connector.fetch(record.external_id)).fields["assignee"] is None
    with pytest.raises(ToolError) as caught:
        await connector.update(record.external_id, {"assignee": "nobody@example.com"})
    assert not caught.value.retryable


async def test_comments_add_edit_delete_in_adf(jira: Harness, connector: JiraConnector) -> None:
    record = await connector.create("01HCOMMENT", {"title": "t"})
    comment_id = await connector.add_comment(record.external_id, "Rolled back\nto v41")
    assert comment_id is not None
    assert (await connector.fetch(record.external_id)).fields["comment"] == "Rolled back\nto v41"
    await connector.edit_comment(record.external_id, comment_id, "Rolled back to v40")
    assert (await connector.fetch(record.external_id)).fields["comment"] == "Rolled back to v40"
    await connector.delete_comment(record.external_id, comment_id)
    assert "comment" not in (await connector.fetch(record.external_id)).fields
    bodies = [orjson.loads(r.body) for r in jira.requests if r.path.endswith("/comment")]
    assert bodies[0]["body"]["type"] == "doc"


async def read_comments(jira: Harness, issue_id: str) -> list[dict[str, object]]:
    """The issue's comments as a REST client reads them, with their properties."""
    async with httpx.AsyncClient(base_url=jira.url, auth=(API_EMAIL, API_TOKEN)) as client:
        got = await client.get(
            f"/rest/api/3/issue/{issue_id}/comment", params={"expand": "properties"}
        )
        got.raise_for_status()
    comments: list[dict[str, object]] = got.json()["comments"]
    return comments


async def test_comments_we_write_are_internal_notes_unless_public_is_chosen(
    jira: Harness, connector: JiraConnector
) -> None:
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    record = await connector.create("01HNOTES", {"title": "t", "comment": "on create"})
    issue = record.external_id
    await connector.update(issue, {"comment": "on update"})
    copied = await connector.add_comment(issue, "a copy")
    assert copied is not None
    await connector.edit_comment(issue, copied, "a copy, edited")
    comments = await read_comments(jira, issue)
    view: Any = await ui(jira, "GET", f"/_sandbox/issues/{issue}")
    assert [c["body"] for c in view["comments"]] == ["on create", "on update", "a copy, edited"]
    assert [(c["jsdPublic"], c["properties"]) for c in comments] == [(False, internal)] * 3
    # every write carried it, the edit too
    writes = [
        orjson.loads(r.body)
        for r in jira.requests
        if "/comment" in r.path and r.method in ("POST", "PUT")
    ]
    assert len(writes) == 4 and all(w["properties"] == internal for w in writes)

    public = JiraConnector(config(jira.url, comment_visibility="public"))
    try:
        said = await public.add_comment(issue, "for the customer")
        assert said is not None
        await public.edit_comment(issue, said, "for the customer, edited")
    finally:
        await public.aclose()
    (last,) = [c for c in await read_comments(jira, issue) if c["id"] == said]
    assert last["jsdPublic"] is True
    assert last["properties"] == [{"key": "sd.public.comment", "value": {"internal": False}}]

    # Another value is refused where the config is loaded (the control API's 422), so no
    # connector is ever made with it.
    with pytest.raises(ValueError, match="comment_visibility"):
        config(jira.url, comment_visibility="customers")


async def test_echo_webhooks_are_signed_and_parse_as_our_own_changes(
    jira: Harness, connector: JiraConnector
) -> None:
    me = (await connector.client.myself())["accountId"]
    record = await connector.create("01HECHO", {"title": "t"})
    await connector.update(record.external_id, {"priority": "P1", "status": "closed"})
    await connector.add_comment(record.external_id, "note")
    await drain(jira)
    events = []
    for hook in jira.webhooks():
        headers = httpx.Headers(hook.headers)
        connector.verify(headers, hook.body)
        events.extend(connector.parse(headers, hook.body))
    assert {e.actor for e in events} == {me}
    seen = {(e.kind.value, tuple(sorted(e.changes))) for e in events}
    assert ("created", ("priority", "status", "title")) in seen
    assert ("updated", ("priority",)) in seen
    assert ("updated", ("status",)) in seen
    assert ("updated", ("comment",)) in seen
    assert all(e.platform_incident_id == "01HECHO" for e in events if e.comment is None)
    tampered = jira.webhooks()[0].body.replace(b"01HECHO", b"01HEVIL")
    with pytest.raises(Exception, match="X-Hub-Signature"):
        connector.verify(httpx.Headers(jira.webhooks()[0].headers), tampered)
    assert signature.HUB_HEADER in jira.webhooks()[0].headers


async def test_search_follows_next_page_tokens(jira: Harness, connector: JiraConnector) -> None:
    for n in range(5):
        await connector.create(f"01HPAGE{n}", {"title": f"t{n}"})
    found = [i async for i in connector.client.search("labels is not EMPTY", page_size=2)]
    assert len(found) == 5
    pages = [r for r in jira.requests if r.path.endswith("/search/jql")]
    assert [r.query.get("nextPageToken") for r in pages] == [None, "2", "4"]
    assert len(await connector.linked_issues()) == 5


async def test_errors_are_classified(jira: Harness, connector: JiraConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("99999")
    with pytest.raises(ToolError) as caught:
        await connector.update("99999", {"title": "x"})
    assert not caught.value.retryable
    await ui(jira, "POST", "/_sandbox/faults", fail_status=429, fail_count=1, retry_after_s=7)
    with pytest.raises(ToolError) as caught:
        await connector.create("01HLIMIT", {"title": "t"})
    assert caught.value.retryable and caught.value.retry_after_s == 7.0
    bad = JiraConnector(config(jira.url).model_copy(update={"username": "x@example.com"}))
    with pytest.raises(ToolError) as caught:
        await bad.test_connection()
    assert caught.value.status == 401
    await bad.aclose()
    await connector.test_connection()
