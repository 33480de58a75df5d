"""incident.io's webhooks as Svix delivers them: envelope, event types, signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from aiohttp import web

from incident_sync.sandbox.incidentio.catalog import JSON
from incident_sync.sandbox.incidentio.state import State
from incident_sync.sandbox.incidentio.store import Change, IncidentStore
from incident_sync.sandbox.storm import Remake
from incident_sync.sandbox.webhook_sender import Delivery, WebhookSender, hold_for_response

CREATED = "incident_created_v2"
UPDATED = "incident_updated_v2"
STATUS_UPDATED = "incident_status_updated_v2"


def svix_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{id}.{ts}.{body}` keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def svix_headers(secret: str, body: bytes) -> dict[str, str]:
    msg_id = "msg_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
    ts = int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,  # stable across retries: receivers de-duplicate on it
        "webhook-timestamp": str(ts),
        "webhook-signature": svix_signature(secret, msg_id, ts, body),
    }


def events_for(store: IncidentStore, change: Change) -> list[tuple[str, JSON]]:
    """The (event_type, payload) pairs incident.io sends for one change, in order."""
    incident = change.incident
    if not change.created and not change.fields:
        return []  # a no-op edit changes nothing, so nothing is announced
    if incident.visibility == "private":
        # Private incidents only reveal their id; receivers must fetch with a privileged key.
        kind = CREATED if change.created else UPDATED
        return [(f"private_incident.{kind}", {"id": incident.id})]
    full = store.render(incident, webhook=True)
    if change.created:
        return [(f"public_incident.{CREATED}", full)]
    out: list[tuple[str, JSON]] = [(f"public_incident.{UPDATED}", full)]
    if change.previous_status is not None:
        payload = {
            "incident": store.render(incident),  # the nested copy is the plain API shape
            "new_status": full["incident_status"],
            "previous_status": change.previous_status,
            "message": change.message,
        }
        out.append((f"public_incident.{STATUS_UPDATED}", payload))
    return out


def _remake(secret: str, body: bytes) -> Remake:
    """Another delivery of the same event: a new message id, signed again."""
    return lambda: (body, svix_headers(secret, body))


def enqueue(
    sender: WebhookSender, secret: str, store: IncidentStore, change: Change
) -> list[Delivery]:
    """Queue the change's webhooks, held until the current response is written."""
    deliveries = []
    for event_type, payload in events_for(store, change):
        body = json.dumps({"event_type": event_type, event_type: payload}).encode()
        headers = svix_headers(secret, body)
        deliveries.append(sender.enqueue(body, headers, hold=True, remake=_remake(secret, body)))
    return deliveries


def announce(request: web.Request, state: State, change: Change) -> None:
    """Queue a change's webhooks to leave once this request's response is written."""
    deliveries = enqueue(state.sender, state.config.signing_secret, state.store, change)
    for delivery in deliveries:
        hold_for_response(request, delivery)
