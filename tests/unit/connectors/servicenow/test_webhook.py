"""ServiceNow connector: parsing the business rule's webhook payloads into change events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.syncmodel.events import ChangeKind
from incident_sync.syncmodel.mapping import FieldMapping
from tests.unit.connectors.servicenow.helpers import SYS_ID, config, mapping


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": "incident.updated",
        "table": "incident",
        "sys_id": SYS_ID,
        "number": "INC0010001",
        "sys_updated_on": "2024-05-06 07:08:09",
        "sys_updated_by": "jane.doe",
        "sys_mod_count": "12",
        "updated_fields": ["short_description", "incident_state", "state", "work_notes"],
        "old_values": {"short_description": "DB slow", "incident_state": "2", "state": "2"},
        "current": {
            "short_description": "DB down",
            "description": "Primary unreachable",
            "state": "6",
            "incident_state": "6",
            "priority": "1",
            "impact": "1",
            "urgency": "1",
            "severity": "1",
            "category": "database",
            "assigned_to": "",
            "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",
            "u_incident_io_id": "01FDAG4SAP5TYPT98WGR2N7W91",
            "close_code": "",
            "close_notes": "",
            "work_notes": "Failing over to the replica",
            "comments": "",
        },
    }
    body.update(overrides)
    return body


def parse(
    body: dict[str, Any] | bytes,
    *,
    mapping_: FieldMapping | None = None,
    delivery: str | None = "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    **cfg: Any,
) -> list[Any]:
    conn = ServiceNowConnector(config(**cfg), mapping=mapping_ or mapping())
    hdrs = httpx.Headers({"X-ServiceNow-Delivery": delivery} if delivery else {})
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return conn.parse(hdrs, raw)


def test_update_without_status_sync() -> None:
    (event,) = parse(payload())
    assert event.kind is ChangeKind.UPDATED
    assert event.delivery_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert event.integration_id == "prod-snow"
    assert event.tenant == "acme"
    assert event.external_id == SYS_ID
    assert event.reference == "INC0010001"
    assert event.platform_incident_id == "01FDAG4SAP5TYPT98WGR2N7W91"
    assert event.actor == "jane.doe"
    assert event.version == "0000000012"
    assert event.source_ts == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    # description did not change; incident_state is mapped but sync_status is off.
    assert {k: (v.old, v.new) for k, v in event.changes.items()} == {
        "title": ("DB slow", "DB down"),
        "comment": (None, "Failing over to the replica"),
    }
    assert all(type(k) is str for k in event.changes)


def test_update_with_status_and_severity_sync() -> None:
    body = payload(updated_fields=["incident_state", "priority"])
    body["old_values"] = {"incident_state": "2", "priority": "3"}
    (event,) = parse(body, mapping_=mapping(sync_status=True, sync_severity=True))
    assert {k: (v.old, v.new) for k, v in event.changes.items()} == {
        "status": ("open", "closed"),
        "severity": ("minor", "critical"),
    }


def test_unknown_state_code_is_not_guessed() -> None:
    body = payload(updated_fields=["incident_state"])
    body["current"]["incident_state"] = "42"
    (event,) = parse(body, mapping_=mapping(sync_status=True))
    assert event.changes == {}


def test_empty_work_note_is_not_a_change() -> None:
    body = payload(updated_fields=["work_notes"])
    body["current"]["work_notes"] = ""
    (event,) = parse(body)
    assert event.changes == {}


def test_work_notes_only_when_updated() -> None:
    (event,) = parse(payload(updated_fields=["description"]))
    assert set(event.changes) == {"description"}


def test_insert_takes_every_mapped_non_empty_field() -> None:
    body = payload(event="incident.inserted", updated_fields=["short_description"], old_values={})
    body["current"]["description"] = ""
    (event,) = parse(body, mapping_=mapping(sync_status=True))
    assert event.kind is ChangeKind.CREATED
    assert {k: v.new for k, v in event.changes.items()} == {
        "title": "DB down",
        "status": "closed",
        "comment": "Failing over to the replica",
    }


def test_update_without_updated_fields_takes_every_mapped_field() -> None:
    body = payload()
    del body["updated_fields"]
    (event,) = parse(body)
    assert set(event.changes) == {"title", "description", "comment"}


def test_delete() -> None:
    (event,) = parse(payload(event="incident.deleted"))
    assert event.kind is ChangeKind.DELETED
    assert event.changes == {}


def test_reverse_sync_off_carries_no_changes() -> None:
    (event,) = parse(payload(), mapping_=mapping(reverse_sync=False))
    assert event.changes == {}


def test_missing_delivery_header_falls_back_to_mod_count() -> None:
    (event,) = parse(payload(), delivery=None)
    assert event.delivery_id == f"{SYS_ID}:12"


def test_custom_correlation_field_and_unlinked_record() -> None:
    body = payload()
    body["current"]["correlation_id"] = "01OTHER"
    (event,) = parse(body, options={"correlation_field": "correlation_id"})
    assert event.platform_incident_id == "01OTHER"
    body["current"]["u_incident_io_id"] = ""
    (event,) = parse(body)
    assert event.platform_incident_id is None


def test_other_table_is_ignored() -> None:
    assert parse(payload(table="change_request")) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'"a string"', 400),
        (payload(event="incident.exploded"), 422),
        (payload(sys_id=""), 422),
        (payload(current=None), 422),
        (payload(sys_mod_count="twelve"), 422),
        (payload(sys_updated_on="06/05/2024 07:08"), 422),
        (payload(updated_fields="short_description"), 422),
        (payload(old_values=["x"]), 422),
    ],
)
def test_malformed_rejected(body: dict[str, Any] | bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(body)
    assert info.value.status == status
    assert info.value.reason
