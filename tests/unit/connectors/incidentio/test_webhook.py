"""incident.io connector: parsing webhook payloads, over the vendor's sample payloads and
hand-made envelopes, into change events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.syncmodel.events import ChangeKind
from incident_sync.syncmodel.trigger import Trigger
from tests.unit.connectors.incidentio.helpers import (
    INCIDENT_ID,
    SAMPLES,
    config,
    headers,
    sample,
)


def parse(body: bytes, delivery: str = "msg_abc") -> list[Any]:
    return IncidentIoConnector(config()).parse(headers(**{"webhook-id": delivery}), body)


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("webhook_*.json")) if SAMPLES.is_dir() else []


INCIDENT_EVENT_TYPES = {
    "public_incident.incident_created_v2",
    "public_incident.incident_updated_v2",
    "public_incident.incident_status_updated_v2",
    "private_incident.incident_created_v2",
    "private_incident.incident_updated_v2",
}


def test_there_are_webhook_samples() -> None:
    assert len(sample_files()) >= 20


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem)
def test_every_sample_parses(path: Path) -> None:
    body = path.read_bytes()
    event_type = orjson.loads(body)["event_type"]
    events = parse(body)
    if event_type in INCIDENT_EVENT_TYPES:
        assert len(events) == 1
        event = events[0]
        assert event.delivery_id == "msg_abc"
        assert event.integration_id == "platform"
        assert event.tenant == "acme"
        assert event.external_id == event.platform_incident_id
    else:
        assert events == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("webhook_public_incident.incident_created_v2.json", ChangeKind.CREATED),
        ("webhook_public_incident.incident_updated_v2.json", ChangeKind.UPDATED),
    ],
)
def test_incident_snapshot_fields(name: str, kind: ChangeKind) -> None:
    (event,) = parse((SAMPLES / name).read_bytes())
    assert event.kind is kind
    assert event.external_id == INCIDENT_ID
    assert event.platform_incident_id == INCIDENT_ID
    assert event.reference == "INC-123"
    assert event.version == "2021-08-17T13:28:57.801578Z"
    assert event.source_ts == datetime(2021, 8, 17, 13, 28, 57, 801578, tzinfo=UTC)
    new = {k: v.new for k, v in event.changes.items()}
    assert all(v.old is None for v in event.changes.values())
    assert new == {
        "title": "Our database is sad",
        "description": "Our database is really really sad, and we don't know why yet.",
        "status": "open",  # category triage (the sample's status *name* says Closed)
        "severity": "minor",
        "comment": "We're working on a fix, hoping to ship in the next 30 minutes",
        "assignee": "lisa@incident.io",  # the incident lead
        "custom.Affected Team": "Product",  # other custom fields: what triggers can test
    }


def test_status_updated_takes_new_status_and_message() -> None:
    envelope = sample("webhook_public_incident.incident_status_updated_v2.json")
    payload = envelope["public_incident.incident_status_updated_v2"]
    payload["new_status"]["category"] = "closed"
    payload["message"] = "Fixed by rolling back"
    (event,) = parse(orjson.dumps(envelope))
    assert event.kind is ChangeKind.UPDATED
    assert event.external_id == INCIDENT_ID
    assert {k: v.new for k, v in event.changes.items()} == {
        "status": "closed",
        "comment": "Fixed by rolling back",
    }
    assert event.version == payload["incident"]["updated_at"]


def test_status_updated_without_message_falls_back_to_latest_update() -> None:
    envelope = sample("webhook_public_incident.incident_status_updated_v2.json")
    payload = envelope["public_incident.incident_status_updated_v2"]
    payload["message"] = ""
    payload["incident"]["most_recent_update_message"] = "earlier update"
    (event,) = parse(orjson.dumps(envelope))
    assert event.changes["comment"].new == "earlier update"


@pytest.mark.parametrize("verb", ["created", "updated"])
def test_private_incident_is_a_refresh(verb: str) -> None:
    (event,) = parse((SAMPLES / f"webhook_private_incident.incident_{verb}_v2.json").read_bytes())
    assert event.kind is ChangeKind.REFRESH
    assert event.external_id == "abc123"
    assert event.platform_incident_id == "abc123"
    assert event.changes == {}


def envelope(incident: dict[str, Any], event_type: str = "public_incident.incident_updated_v2"):
    return orjson.dumps({"event_type": event_type, event_type: incident})


@pytest.mark.parametrize(
    ("category", "status"),
    [
        ("triage", "open"),
        ("live", "open"),
        ("paused", "open"),
        ("learning", "closed"),
        ("closed", "closed"),
        ("declined", "closed"),
        ("merged", "closed"),
        ("canceled", "closed"),
        ("something_new", None),
    ],
)
def test_status_categories(category: str, status: str | None) -> None:
    (event,) = parse(
        envelope({"id": "01X", "name": "n", "incident_status": {"category": category}})
    )
    assert (event.changes["status"].new if "status" in event.changes else None) == status


def test_absent_severity_and_empty_update_are_omitted() -> None:
    body = envelope({"id": "01X", "name": "n", "severity": None, "most_recent_update_message": ""})
    (event,) = parse(body)
    assert set(event.changes) == {"title"}


def test_lists_of_another_shape_are_ignored_not_read_as_cleared() -> None:
    """Found by the fuzz (test_webhook_fuzz.py): a custom field entry whose `values` was a
    number failed with a TypeError, which the ingress answers 500. Such a value is not
    known: the priority is left out, not cleared (an empty list does clear it)."""
    entry = {"custom_field": {"name": "Priority"}, "values": 1}
    odd = {"name": "n", "custom_field_entries": [entry], "incident_role_assignments": 7}
    (event,) = parse(envelope({"id": "01X", **odd}))
    assert event.changes["title"].new == "n"
    assert "priority" not in event.changes
    entry = {"custom_field": {"name": "Priority"}, "values": []}
    (event,) = parse(envelope({"id": "01X", "name": "n", "custom_field_entries": [entry]}))
    assert event.changes["priority"].new is None  # the field is there, with no value
    (event,) = parse(envelope({"id": "01X", "name": "n", "custom_field_entries": 3}))
    assert set(event.changes) == {"title"}


def test_delivery_id_falls_back_to_body_digest() -> None:
    body = envelope({"id": "01X", "name": "n"})
    first = IncidentIoConnector(config()).parse(headers(), body)[0]
    again = IncidentIoConnector(config()).parse(headers(), body)[0]
    assert first.delivery_id == again.delivery_id
    assert first.delivery_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"public_incident.incident_updated_v2": {}}', 422),
        (b'{"event_type": "public_incident.incident_updated_v2"}', 422),
        (
            b'{"event_type": "public_incident.incident_updated_v2", '
            b'"public_incident.incident_updated_v2": {"name": "no id"}}',
            422,
        ),
        (
            b'{"event_type": "private_incident.incident_updated_v2", '
            b'"private_incident.incident_updated_v2": {}}',
            422,
        ),
        (
            b'{"event_type": "public_incident.incident_status_updated_v2", '
            b'"public_incident.incident_status_updated_v2": {"message": "x"}}',
            422,
        ),
    ],
)
def test_malformed_rejected(body: bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(body)
    assert info.value.status == status
    assert info.value.reason


def test_priority_custom_field_and_lead_are_read() -> None:
    from incident_sync.connectors.incidentio.fields import canonical_fields

    incident: dict[str, Any] = {
        "custom_field_entries": [
            {
                "custom_field": {"name": "priority", "field_type": "single_select"},
                "values": [{"value_option": {"id": "o1", "value": "P2"}}],
            }
        ],
        "incident_role_assignments": [
            {"role": {"role_type": "reporter"}, "assignee": {"email": "x@example.com"}},
            {"role": {"role_type": "lead"}},
        ],
    }
    assert canonical_fields(incident) == {"priority": "P2", "assignee": None}
    assert canonical_fields(incident, priority_field=None) == {"assignee": None}
    incident["custom_field_entries"][0]["values"] = []
    incident["incident_role_assignments"][1]["assignee"] = {"email": "Bob@Example.com"}
    assert canonical_fields(incident) == {"priority": None, "assignee": "bob@example.com"}


def test_other_custom_fields_are_state_a_trigger_can_test() -> None:
    from incident_sync.connectors.incidentio.fields import canonical_fields

    def entry(name: str, *values: dict[str, Any]) -> dict[str, Any]:
        return {"custom_field": {"name": name}, "values": list(values)}

    incident = {
        "custom_field_entries": [
            entry("Priority", {"value_option": {"value": "P1"}}),
            entry("External work notes", {"value_text": "our note"}),
            entry("Affected team", {"value_option": {"value": "Payments"}}),
            entry("Services", {"value_catalog_entry": {"name": "api"}}, {"value_text": "db"}),
            entry("Customers affected", {"value_numeric": "120"}),
            entry("Runbook", {"value_link": "https://runbooks/x"}),
            entry("Region"),
        ]
    }
    fields = canonical_fields(incident, comment_field="External work notes")
    assert fields == {
        "priority": "P1",  # the priority field and the notes field are not repeated
        "custom.Affected team": "Payments",
        "custom.Services": "api, db",
        "custom.Customers affected": "120",
        "custom.Runbook": "https://runbooks/x",
        "custom.Region": None,
    }
    trigger = Trigger.model_validate(
        {"all": [{"field": "custom.Affected team", "in": ["payments", "search"]}]}
    )
    assert trigger.matches(fields)
    assert not trigger.matches({**fields, "custom.Affected team": "Platform"})
