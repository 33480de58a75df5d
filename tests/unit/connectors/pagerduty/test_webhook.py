"""PagerDuty webhooks: the captured signed deliveries verify (tampered copies fail) and every
sample parses into the right events, or is refused / ignored with a reason."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.pagerduty import signature
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, CommentAction
from tests.unit.connectors.pagerduty.helpers import SAMPLES, SECRET, config, sample

CAPTURED = SAMPLES / "captured_signed"


def vectors() -> list[dict[str, str]]:
    """Read at collection (the tests are parametrised by them)."""
    path = CAPTURED / "signature_vectors.json"
    return list(orjson.loads(path.read_bytes())["vectors"])


def captured_secret() -> str:
    return str(orjson.loads((CAPTURED / "signature_vectors.json").read_bytes())["secret"])


def connector(secret: str = SECRET, **options: str) -> PagerDutyConnector:
    return PagerDutyConnector(config(secret=secret, **options))


def parse(data: dict[str, Any] | bytes, delivery: str = "wh-1") -> list[ChangeEvent]:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return connector().parse(httpx.Headers({"X-Webhook-Id": delivery}), body)


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": {
            "id": "01EVT",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": {"id": "PLH1HKV", "type": "user_reference"},
            "data": data,
        }
    }


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["file"])
def test_captured_deliveries_verify_and_tampered_copies_fail(vector: dict[str, str]) -> None:
    body = (CAPTURED / vector["file"]).read_bytes()
    conn = connector(captured_secret())
    conn.verify(httpx.Headers({"X-PagerDuty-Signature": vector["header"]}), body)
    with pytest.raises(WebhookRejected):
        conn.verify(httpx.Headers({"X-PagerDuty-Signature": vector["header"]}), body + b" ")
    tampered = body.replace(b'"incident', b'"Incident', 1) if b'"incident' in body else body[:-2]
    with pytest.raises(WebhookRejected):
        conn.verify(httpx.Headers({"X-PagerDuty-Signature": vector["header"]}), tampered)


def test_the_official_vector_and_rotation_with_several_signatures() -> None:
    vector = sample("signature_vector.json")
    body = (SAMPLES / vector["body_file"]).read_bytes()
    conn = connector(vector["secret"])
    conn.verify(httpx.Headers({"X-PagerDuty-Signature": vector["valid_header"]}), body)
    with pytest.raises(WebhookRejected, match="matches"):
        conn.verify(httpx.Headers({"X-PagerDuty-Signature": vector["invalid_header"]}), body)
    rotated = f"{vector['invalid_header']},{vector['valid_header']}"
    conn.verify(httpx.Headers({"X-PagerDuty-Signature": rotated}), body)
    # the integration may hold the old and the new secret while switching over
    both = connector(f"old-secret {vector['secret']}")
    both.verify(httpx.Headers({"X-PagerDuty-Signature": vector["valid_header"]}), body)
    with pytest.raises(WebhookRejected, match="no v1"):
        conn.verify(httpx.Headers({"X-PagerDuty-Signature": "v0=abc"}), body)
    with pytest.raises(WebhookRejected, match="missing"):
        conn.verify(httpx.Headers(), body)
    assert signature.sign(vector["secret"], body) == vector["valid_header"]


@pytest.mark.parametrize(
    ("name", "kind", "changes"),
    [
        (
            "webhook_v3_incident.triggered.json",
            ChangeKind.CREATED,
            {"title", "status", "escalation_policy"},
        ),
        ("webhook_v3_incident.acknowledged.json", ChangeKind.UPDATED, {"status"}),
        ("webhook_v3_incident.resolved.json", ChangeKind.UPDATED, {"status"}),
        ("webhook_v3_incident.annotated.json", ChangeKind.UPDATED, {"comment"}),
    ],
)
def test_captured_incident_events_parse(name: str, kind: ChangeKind, changes: set[str]) -> None:
    (event,) = parse((CAPTURED / name).read_bytes(), delivery="wh-77")
    assert event.kind is kind
    assert set(event.changes) >= changes
    assert event.delivery_id == "wh-77"
    assert event.actor == "PVE0ZR9"


def test_statuses_map_to_open_and_closed() -> None:
    (resolved,) = parse((CAPTURED / "webhook_v3_incident.resolved.json").read_bytes())
    assert resolved.changes["status"].new == "closed"
    (acked,) = parse((CAPTURED / "webhook_v3_incident.acknowledged.json").read_bytes())
    assert acked.changes["status"].new == "open"


def test_annotated_is_a_note_with_its_id() -> None:
    (event,) = parse((CAPTURED / "webhook_v3_incident.annotated.json").read_bytes())
    assert event.external_id == "Q2CKYRLH85UNN4"
    assert event.comment is not None and event.comment.action is CommentAction.ADDED
    assert event.comment.comment_id == "PTSAIFZ"
    assert event.changes["comment"].new == "Resolution Note: I'm resolving it"


def test_official_priority_updated_sample() -> None:
    (event,) = parse(sample("webhook_v3_incident.priority_updated.json"))
    assert event.kind is ChangeKind.UPDATED
    assert event.external_id == "PGR0VU2" and event.reference == "#2"
    assert {k: c.new for k, c in event.changes.items()} == {"priority": "P1"}
    assert event.version == "2020-10-02T18:45:22.169000Z"


def test_the_event_data_sample_parses_for_every_incident_event_type() -> None:
    data = sample("event_data_incident.json")
    for event_type in ("incident.unacknowledged", "incident.reopened"):
        (event,) = parse(envelope(event_type, data))
        assert event.changes["status"].new == "open"
    (created,) = parse(envelope("incident.triggered", data))
    assert created.changes["priority"].new == "P1"
    assert created.changes["escalation_policy"].new == "Default"


@pytest.mark.parametrize(
    "event_type", ["incident.reassigned", "incident.escalated", "incident.delegated"]
)
def test_reassignments_ask_for_a_re_read_of_the_assignee(event_type: str) -> None:
    (event,) = parse(envelope(event_type, sample("event_data_incident.json")))
    assert event.kind is ChangeKind.REFRESH
    assert event.only_fields == ("assignee", "escalation_policy")
    assert event.external_id == "PGR0VU2"


def test_incident_key_names_the_platform_incident() -> None:
    data = sample("event_data_incident.json") | {"incident_key": "incident-sync-01HABC"}
    (event,) = parse(envelope("incident.resolved", data))
    assert event.platform_incident_id == "01HABC"


def test_priority_cleared_or_outside_the_map() -> None:
    data = sample("event_data_incident.json") | {"priority": None}
    (event,) = parse(envelope("incident.priority_updated", data))
    assert event.changes["priority"].new is None
    data["priority"] = {"id": "X", "summary": "Urgent-ish", "type": "priority_reference"}
    assert parse(envelope("incident.priority_updated", data)) == []


@pytest.mark.parametrize(
    "name",
    [
        "webhook_v3_service.updated.json",
        "captured_signed/webhook_v3_pagey.ping.json",
    ],
)
def test_non_incident_deliveries_are_ignored(name: str) -> None:
    assert parse((SAMPLES / name).read_bytes()) == []


@pytest.mark.parametrize(
    ("data_file", "event_type"),
    [
        ("event_data_incident_status_update.json", "incident.status_update_published"),
        ("event_data_incident_responder.json", "incident.responder.added"),
        ("event_data_incident_conference_bridge.json", "incident.conference_bridge.updated"),
        ("event_data_incident_field_values.json", "incident.custom_field_values.updated"),
        ("event_data_incident_role_assignment.json", "incident.role.assigned"),
        ("event_data_incident_task.json", "incident.task.created"),
        ("event_data_incident_workflow_instance.json", "incident.workflow.started"),
        ("event_data_incident_action_invocation.json", "incident.action_invocation.created"),
    ],
)
def test_other_incident_events_are_not_synced(data_file: str, event_type: str) -> None:
    assert parse(envelope(event_type, sample(data_file))) == []


def test_service_data_samples_are_not_incident_events() -> None:
    for name, event_type in (
        ("event_data_service.json", "service.created"),
        ("event_data_service_field_values.json", "service.custom_field_values.updated"),
    ):
        body = envelope(event_type, sample(name))
        body["event"]["resource_type"] = "service"
        assert parse(body) == []


def test_delivery_id_falls_back_to_the_event_id() -> None:
    body = orjson.dumps(envelope("incident.resolved", sample("event_data_incident.json")))
    (event,) = connector().parse(httpx.Headers(), body)
    assert event.delivery_id == "event:01EVT"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"<xml/>", 400, "not JSON"),
        (b'"string"', 400, "not a JSON object"),
        (b'{"messages": []}', 422, "not a PagerDuty v3 webhook"),
        (b'{"event": {"resource_type": "incident"}}', 422, "event_type"),
        (
            b'{"event": {"event_type": "incident.resolved", "resource_type": "incident"}}',
            422,
            "data",
        ),
        (
            b'{"event": {"event_type": "incident.resolved", "resource_type": "incident",'
            b' "data": {"id": "P1", "status": "sleeping"}}}',
            422,
            "status",
        ),
        (
            b'{"event": {"event_type": "incident.annotated", "resource_type": "incident",'
            b' "data": {"id": "N1", "content": "x"}}}',
            422,
            "data.incident",
        ),
    ],
)
def test_malformed_deliveries_are_refused(body: bytes, status: int, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse(body)
    assert caught.value.status == status and reason in caught.value.reason
