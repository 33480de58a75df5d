"""The requests the ingress benchmark sends: realistic ~2 KB incident.io `incident_updated_v2`
bodies, Svix-signed, and the JSON file the Python load generator reads them back from."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from incident_sync.connectors.incidentio.signature import sign

EVENT_TYPE = "public_incident.incident_updated_v2"
VARIANTS = 256  # distinct signed requests the generator cycles through (different incidents)


def incident_body(n: int, size: int = 2048) -> bytes:
    """A realistic incident.io IncidentV2 update of about `size` bytes."""
    iid = f"01HZX{n:05d}QK8R4T6W2Y9C3M7PBV"[:26]
    user = {
        "id": "01FCNDV6P870EA6S7TK1DSYDG0",
        "name": "Lisa Karlin Curtis",
        "email": "lisa@example.com",
        "role": "responder",
        "slack_user_id": "U02AYNF2XJM",
    }
    incident: dict[str, Any] = {
        "id": iid,
        "reference": f"INC-{1000 + n}",
        "name": f"Checkout latency above SLO in eu-west-1 (#{n})",
        "summary": "",
        "mode": "standard",
        "visibility": "public",
        "permalink": f"https://app.incident.io/example/incidents/{1000 + n}",
        "slack_channel_id": "C02AW36C1M5",
        "slack_channel_name": f"inc-{1000 + n}-checkout-latency",
        "slack_team_id": "T02A1FSLE8J",
        "call_url": "https://zoom.us/j/123",
        "created_at": "2024-05-01T09:12:44.113081Z",
        "updated_at": f"2024-05-01T09:{n % 60:02d}:{(n * 7) % 60:02d}.801578Z",
        "creator": {"user": user},
        "incident_status": {
            "id": "01FCNDV6P870EA6S7TK1DSYD5H",
            "name": "Investigating",
            "description": "We're investigating the problem.",
            "category": "live",
            "rank": 4,
            "created_at": "2021-08-17T13:28:57.801578Z",
            "updated_at": "2021-08-17T13:28:57.801578Z",
        },
        "severity": {
            "id": "01FCNDV6P870EA6S7TK1DSYDG0",
            "name": "Major",
            "description": "Issues causing significant impact.",
            "rank": 2,
            "created_at": "2021-08-17T13:28:57.801578Z",
            "updated_at": "2021-08-17T13:28:57.801578Z",
        },
        "incident_type": {
            "id": "01FH5TZRWMNAFB0DZ23FD1TV96",
            "name": "Production Outage",
            "description": "Something has gone wrong in production.",
            "is_default": False,
            "private_incidents_only": False,
        },
        "incident_role_assignments": [
            {
                "role": {
                    "id": "01FH5TZRWMNAFB0DZ23FD1TV97",
                    "name": "Incident Lead",
                    "role_type": "lead",
                    "shortform": "lead",
                },
                "assignee": user,
            }
        ],
        "custom_field_entries": [
            {
                "custom_field": {
                    "id": "01FCNDV6P870EA6S7TK1DSYDG1",
                    "name": "Affected Teams",
                    "field_type": "multi_select",
                },
                "values": [{"value_option": {"id": "01FCNDV6P870", "value": "Payments"}}],
            }
        ],
        "most_recent_update_message": "Rolled back the 09:05 deploy; error rate recovering.",
        "duration_metrics": [],
        "incident_timestamp_values": [],
        "workload_minutes_total": 42.5,
    }
    envelope = {"event_type": EVENT_TYPE, EVENT_TYPE: incident}
    base = len(orjson.dumps(envelope))
    incident["summary"] = ("Customers see slow checkouts; p99 above 4 s since 09:03. " * 40)[
        : max(0, size - base)
    ]
    return orjson.dumps(envelope)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def signed_requests(key: bytes, count: int) -> list[Request]:
    out = []
    timestamp = str(int(time.time()))
    for n in range(count):
        body = incident_body(n)
        msg_id = f"msg_{uuid.uuid4().hex}"
        out.append(
            Request(
                "/webhook",
                {
                    "Content-Type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": sign(key, msg_id, timestamp, body),
                },
                body,
            )
        )
    return out


def write_requests_file(requests: list[Request], path: Path) -> None:
    path.write_bytes(
        orjson.dumps(
            [{"path": r.path, "headers": r.headers, "body": r.body.decode()} for r in requests]
        )
    )


def read_requests_file(path: Path) -> list[Request]:
    raw = orjson.loads(path.read_bytes())
    return [Request(r["path"], r["headers"], r["body"].encode()) for r in raw]
