"""PagerDuty webhooks v3: one event per delivery, `X-PagerDuty-Signature: v1=<hex>`."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from aiohttp import web

from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.pagerduty import render
from incident_sync.sandbox.pagerduty.state import State
from incident_sync.sandbox.pagerduty.store import Incident, Note
from incident_sync.sandbox.webhook_sender import hold_for_response

JSON = dict[str, Any]
SUBSCRIPTION_ID = "PSUBSANDBOX1"


def headers(secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-Webhook-Id": str(uuid.uuid4()),  # the same on every retry
        "X-Webhook-Subscription": SUBSCRIPTION_ID,
        "X-PagerDuty-Signature": "v1="
        + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def _send(request: web.Request, state: State, event_type: str, data: JSON, actor: str) -> None:
    moment = utcnow()
    payload = {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z",
            "agent": render.user_ref(state.store, actor),
            "client": None,
            "data": data,
        }
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    secret = state.config.webhook_secret
    delivery = state.sender.enqueue(
        body, headers(secret, body), hold=True, remake=lambda: (body, headers(secret, body))
    )
    hold_for_response(request, delivery)


def send(request: web.Request, state: State, event_type: str, data: JSON, actor: str) -> None:
    """One incident event of `event_type` with its `data`."""
    _send(request, state, event_type, data, actor)


def incident_events(
    request: web.Request, state: State, incident: Incident, events: list[str], actor: str
) -> None:
    for event_type in events:
        _send(request, state, event_type, render.webhook_incident(state.store, incident), actor)


def annotated(request: web.Request, state: State, incident: Incident, note: Note) -> None:
    _send(request, state, "incident.annotated", render.webhook_note(incident, note), note.user)
