"""Jira webhooks -> change events, over Jira's own captured deliveries and made-up edge cases."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, CommentAction
from tests.unit.connectors.jira.helpers import SAMPLES, config, sample


def parse(data: dict[str, Any] | bytes, delivery: str = "d-1", **options: str) -> list[ChangeEvent]:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    headers = httpx.Headers({"X-Atlassian-Webhook-Identifier": delivery})
    return JiraConnector(config(**options)).parse(headers, body)


def only(events: list[ChangeEvent]) -> ChangeEvent:
    assert len(events) == 1
    return events[0]


def changes(event: ChangeEvent) -> dict[str, tuple[str | None, str | None]]:
    return {k: (c.old, c.new) for k, c in event.changes.items()}


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("webhook_*.json")), ids=lambda p: p.name)
def test_every_sample_parses_into_one_event_with_the_delivery_id(path: Any) -> None:
    event = only(parse(path.read_bytes(), delivery="abc-123"))
    assert event.delivery_id == "abc-123"
    assert event.integration_id == "prod-jira" and event.tenant == "acme"
    assert event.version is not None


def test_issue_created_carries_the_snapshot() -> None:
    event = only(parse(sample("webhook_jira_issue_created.json")))
    assert event.kind is ChangeKind.CREATED
    assert (event.external_id, event.reference) == ("10400", "BUG-15")
    assert changes(event) == {
        "title": (None, "New bug with hook"),
        "description": (None, "Fix me please"),
        "status": (None, "open"),
        "priority": (None, "P3"),  # "Major" in the older scheme
    }
    assert event.actor == "99:27935d01-92a7-4687-8272-a9b8d3b2ae2e"


def test_priority_change_comes_from_the_changelog() -> None:
    event = only(parse(sample("webhook_jira_issue_updated__priority_change.json")))
    assert event.kind is ChangeKind.UPDATED
    assert changes(event) == {"priority": ("P2", "P3")}  # Critical -> Major


def test_status_change_reads_the_category_of_the_new_status() -> None:
    data = sample("webhook_jira_issue_updated__status_change.json")
    assert changes(only(parse(data))) == {"status": ("open", "open")}  # To Do -> In Progress
    data["issue"]["fields"]["status"]["statusCategory"]["key"] = "done"
    data["changelog"]["items"][0]["toString"] = "Done"
    assert changes(only(parse(data))) == {"status": ("open", "closed")}


def test_assignee_is_the_e_mail_address_and_a_hidden_one_is_not_guessed() -> None:
    data = sample("webhook_jira_issue_updated__priority_change.json")
    data["changelog"]["items"] = [
        {"field": "assignee", "fieldtype": "jira", "from": None, "to": "99:e2f", "toString": "leo"}
    ]
    assert changes(only(parse(data))) == {"assignee": (None, "leo@zulip.com")}
    del data["issue"]["fields"]["assignee"]["emailAddress"]
    assert parse(data) == []


def test_an_update_of_fields_not_synced_is_ignored() -> None:
    data = sample("webhook_jira_issue_updated__priority_change.json")
    data["changelog"]["items"] = [{"field": "labels", "fieldtype": "jira", "toString": "x"}]
    assert parse(data) == []
    del data["changelog"]  # e.g. issue_commented: the comment event carries the comment
    assert parse(data) == []


def test_issue_deleted_is_a_delete_without_changes() -> None:
    event = only(parse(sample("webhook_jira_issue_deleted.json")))
    assert event.kind is ChangeKind.DELETED
    assert event.changes == {}
    assert event.external_id == "10400"


def test_comment_created_is_a_comment_change_and_the_latest_entry() -> None:
    event = only(parse(sample("webhook_comment_created.json")))
    assert event.comment is not None
    assert event.comment.action is CommentAction.ADDED
    assert event.comment.comment_id == "10000"
    assert event.comment.body == "Leaving a comment here! :)"
    assert event.comment.author == "5a1b0e47748e770ed11f338c"
    assert changes(event) == {"comment": (None, "Leaving a comment here! :)")}
    assert event.actor == "5a1b0e47748e770ed11f338c"


def test_comment_updated_and_deleted_follow_the_comment_id_only() -> None:
    data = sample("webhook_comment_created.json")
    data["webhookEvent"] = "comment_updated"
    data["comment"]["body"] = "*Edited* with a [link|https://example.com]"
    edited = only(parse(data))
    assert edited.comment is not None and edited.comment.action is CommentAction.EDITED
    assert edited.comment.body == "Edited with a link"
    assert edited.changes == {}  # not appended again as a new entry
    data["webhookEvent"] = "comment_deleted"
    deleted = only(parse(data))
    assert deleted.comment is not None and deleted.comment.action is CommentAction.DELETED
    assert deleted.comment.body is None


def test_correlation_label_names_the_platform_incident() -> None:
    data = sample("webhook_jira_issue_updated__priority_change.json")
    data["issue"]["fields"]["labels"] = ["customer", "incident-sync-01HXYZ"]
    assert only(parse(data)).platform_incident_id == "01HXYZ"


def test_delivery_id_falls_back_to_a_digest_of_the_body() -> None:
    body = (SAMPLES / "webhook_jira_issue_deleted.json").read_bytes()
    event = only(JiraConnector(config()).parse(httpx.Headers(), body))
    assert event.delivery_id.startswith("sha256:")


@pytest.mark.parametrize(
    "event", ["worklog_created", "issuelink_created", "project_created", "jira:version_released"]
)
def test_other_jira_events_are_not_synced(event: str) -> None:
    assert parse({"webhookEvent": event, "timestamp": 1}) == []


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 400, "not a JSON object"),
        (b'{"timestamp": 1}', 422, "missing webhookEvent"),
        (b'{"webhookEvent": "jira:issue_updated"}', 422, "missing the issue"),
        (b'{"webhookEvent": "jira:issue_updated", "issue": {"fields": {}}}', 422, "issue.id"),
        (
            b'{"webhookEvent": "comment_created", "issue": {"id": "1", "fields": {}}}',
            422,
            "comment",
        ),
        (
            b'{"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "fields": {}},'
            b' "changelog": {"items": 3}}',
            422,
            "changelog.items",
        ),
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(
    body: bytes, status: int, reason: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse(body)
    assert caught.value.status == status
    assert reason in caught.value.reason
