"""The incident business rule (after insert/update/delete, async): payload and signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

from aiohttp import web

from incident_sync.sandbox.servicenow.state import State
from incident_sync.sandbox.servicenow.store import TableStore, Write
from incident_sync.sandbox.webhook_sender import hold_for_response

CURRENT_FIELDS = (
    "short_description",
    "description",
    "state",
    "incident_state",
    "priority",
    "impact",
    "urgency",
    "severity",
    "category",
    "assigned_to",
    "assignment_group",
    "u_incident_io_id",
    "close_code",
    "close_notes",
)


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def payload(store: TableStore, write: Write) -> dict[str, object]:
    row = write.record
    current: dict[str, str] = {name: row.get(name, "") for name in CURRENT_FIELDS}
    for element in ("work_notes", "comments"):
        current[element] = store.latest_journal(row["sys_id"], element)
    return {
        "event": f"incident.{write.event}",
        "table": "incident",
        "sys_id": row["sys_id"],
        "number": row["number"],
        "sys_updated_on": row["sys_updated_on"],
        "sys_updated_by": write.user if write.event == "deleted" else row["sys_updated_by"],
        "sys_mod_count": row["sys_mod_count"],
        "updated_fields": list(write.updated_fields),
        "old_values": dict(write.old_values),
        "current": current,
    }


def announce(request: web.Request, state: State, write: Write) -> None:
    """Queue the rule's POST; it leaves once this request's response is written."""
    if write.table != "incident" or not write.changed:
        return
    body = json.dumps(payload(state.store, write)).encode()
    secret = state.config.webhook_secret

    def headers() -> tuple[bytes, dict[str, str]]:
        return body, {
            "Content-Type": "application/json",
            "X-ServiceNow-Delivery": uuid.uuid4().hex,  # computed once: the same on every retry
            "X-ServiceNow-Signature": signature(secret, body),
        }

    delivery = state.sender.enqueue(*headers(), hold=True, remake=headers)
    hold_for_response(request, delivery)
