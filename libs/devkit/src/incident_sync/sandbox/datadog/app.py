"""The Datadog stand-in: incidents (JSON:API), search, key auth, webhooks, stats, faults."""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from incident_sync.sandbox.base import (
    Controls,
    control_routes,
    counter_controls,
    found,
    object_body,
    sandbox_app,
)
from incident_sync.sandbox.datadog import fieldconfig, fieldvalues
from incident_sync.sandbox.faults import ApiFaults, fault_middleware
from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.routes import Routes
from incident_sync.sandbox.webhook_sender import (
    DEFAULT_BACKOFF_S,
    SenderConfig,
    WebhookSender,
    hold_for_response,
)

JSON = dict[str, Any]
STATES = ("active", "stable", "resolved")
SEVERITIES = ("UNKNOWN", "SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5")
DEFAULT_FIELDS: JSON = {
    "severity": {"type": "dropdown", "value": "UNKNOWN"},
    "state": {"type": "dropdown", "value": "active"},
    "detection_method": {"type": "dropdown", "value": "unknown"},
    "root_cause": {"type": "textbox", "value": None},
    "summary": {"type": "textbox", "value": None},
    "services": {"type": "autocomplete", "value": None},
    "teams": {"type": "autocomplete", "value": None},
    # the property fields docs/datadog-setup.md asks an admin to create
    "incident_sync_id": {"type": "textbox", "value": None},
    "incident_sync_ref": {"type": "textbox", "value": None},
}


@dataclass(frozen=True)
class DatadogConfig:
    api_key: str = "sandbox-dd-api-key"
    app_key: str = "sandbox-dd-app-key"
    user_id: str = "3ad549bf-eba0-11e9-a77a-0705486660d0"  # the keys' owner
    webhook_url: str = ""
    webhook_header: str = "X-Incident-Sync-Token"
    webhook_secret: str = "sandbox-dd-webhook-secret"  # noqa: S105 - a sandbox default
    webhook_backoff_s: tuple[float, ...] = field(default=DEFAULT_BACKOFF_S)


@dataclass
class Incident:
    id: str
    public_id: int
    title: str
    fields: JSON
    created: datetime
    modified: datetime
    modified_by: str


@dataclass
class State:
    config: DatadogConfig
    sender: WebhookSender
    faults: ApiFaults
    incidents: dict[str, Incident] = field(default_factory=dict)
    api_writes: Counter[str] = field(default_factory=Counter)
    next_public_id: int = 1


STATE = web.AppKey("datadog_state", State)
API = "/api/v2/incidents"


def dd_time(moment: datetime) -> str:
    return moment.isoformat()  # 2026-02-23T14:06:46.306566+00:00


def error(status: int, *messages: str) -> web.Response:
    return web.json_response({"errors": list(messages)}, status=status)


def render(incident: Incident, config: DatadogConfig) -> JSON:
    state = incident.fields["state"]["value"]
    user = {"data": {"type": "users", "id": incident.modified_by}}
    return {
        "type": "incidents",
        "id": incident.id,
        "attributes": {
            "public_id": incident.public_id,
            "title": incident.title,
            "created": dd_time(incident.created),
            "modified": dd_time(incident.modified),
            "resolved": dd_time(incident.modified) if state == "resolved" else None,
            "customer_impacted": False,
            "fields": {
                **incident.fields,
                "slug": {"type": "textbox", "value": f"IR-{incident.public_id}"},
            },
            "severity": incident.fields["severity"]["value"],
            "state": state,
            "visibility": "organization",
            "is_test": False,
            "last_modified_by_uuid": incident.modified_by,
        },
        "relationships": {"last_modified_by_user": user, "commander_user": {"data": None}},
    }


def _apply(incident: Incident | None, attributes: object) -> tuple[str | None, JSON]:
    """Validate the attributes; returns (title, field updates)."""
    if not isinstance(attributes, dict):
        raise ValueError("data.attributes must be an object")
    title = attributes.get("title")
    if title is not None and (not isinstance(title, str) or not title):
        raise ValueError("title must be a non-empty string")
    updates: JSON = {}
    for name, value in (attributes.get("fields") or {}).items():
        if name not in DEFAULT_FIELDS:
            updates[name] = fieldvalues.checked(name, value)  # the account's other fields
            continue
        if not isinstance(value, dict) or "value" not in value:
            raise ValueError(f"invalid field {name!r}")
        if name == "state" and value["value"] not in STATES:
            raise ValueError(f"invalid state {value['value']!r}")
        if name == "severity" and value["value"] not in SEVERITIES:
            raise ValueError(f"invalid severity {value['value']!r}")
        if DEFAULT_FIELDS[name]["type"] in fieldvalues.MULTIPLE.values():
            fieldvalues.checked(name, value)  # a list of strings, or null
        updates[name] = {"type": DEFAULT_FIELDS[name]["type"], "value": value["value"]}
    return title, updates


def _announce(request: web.Request, state: State, incident: Incident) -> None:
    config = state.config
    headers = {"Content-Type": "application/json", config.webhook_header: config.webhook_secret}
    snapshot = {
        "event_type": "incident",
        "date_posix": str(int(incident.modified.timestamp())),
        # the template's "{{incident.incident_sync_ref}}": empty until incident-sync set it
        "incident_id": incident.fields["incident_sync_ref"]["value"] or "",
        "incident_public_id": str(incident.public_id),
        "title": incident.title,
    }

    def delivery() -> tuple[bytes, dict[str, str]]:  # each one a new event id
        body = json.dumps({"event_id": str(uuid.uuid4().int >> 64), **snapshot}).encode()
        return body, headers

    queued = state.sender.enqueue(*delivery(), hold=True, remake=delivery)
    hold_for_response(request, queued)


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        config = request.app[STATE].config
        if request.headers.get("DD-API-KEY") != config.api_key or (
            request.headers.get("DD-APPLICATION-KEY") != config.app_key
        ):
            return error(403, "Forbidden")
    response: web.StreamResponse = await handler(request)
    return response


routes = Routes()  # handlers raise `Refusal`s in Datadog's `{"errors": [...]}` shape


async def _data(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise ValueError("invalid JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "incidents":
        raise ValueError("data must be an object of type incidents")
    return data


def _incident(request: web.Request) -> tuple[State, Incident]:
    """The state and the incident the path names, or else a `Refusal` (404)."""
    state = request.app[STATE]
    return state, found(
        state.incidents.get(request.match_info["id"]), lambda: error(404, "Not found")
    )


def _write(state: State, incident: Incident, title: str | None, updates: JSON, who: str) -> bool:
    changed = False
    if title is not None and title != incident.title:
        incident.title, changed = title, True
    for name, value in updates.items():
        if incident.fields.get(name) != value:
            incident.fields[name], changed = value, True
    if changed:
        incident.modified = max(utcnow(), incident.modified + timedelta(microseconds=1))
        incident.modified_by = who
    return changed


@routes.post(API)
async def create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        data = await _data(request)
        title, updates = _apply(None, data.get("attributes"))
        if title is None:
            raise ValueError("title is required")
    except ValueError as exc:
        return error(400, str(exc))
    at = utcnow()
    incident = Incident(
        id=str(uuid.uuid4()),
        public_id=state.next_public_id,
        title=title,
        fields={k: dict(v) for k, v in DEFAULT_FIELDS.items()} | updates,
        created=at,
        modified=at,
        modified_by=state.config.user_id,
    )
    state.next_public_id += 1
    state.incidents[incident.id] = incident
    state.api_writes[incident.id] += 1
    _announce(request, state, incident)
    return web.json_response({"data": render(incident, state.config)}, status=201)


def _search(state: State, query: str) -> list[Incident]:
    """`field:"value"` (one clause) over the textbox and dropdown fields; `state:active`."""
    name, _, value = query.partition(":")
    value = value.strip('"')
    return [
        i
        for i in state.incidents.values()
        if not name or (i.fields.get(name.strip()) or {}).get("value") == value
    ]


@routes.get("/_sandbox/search")
async def ui_search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    found = _search(state, request.query.get("query", ""))
    return web.json_response([render(i, state.config) for i in found])


@routes.get(API + "/search")
async def search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    found = _search(state, request.query.get("query", ""))
    body = {
        "data": {
            "type": "incidents_search_results",
            "attributes": {
                "incidents": [{"data": render(i, state.config)} for i in found],
                "total": len(found),
                "facets": {},
            },
        }
    }
    return web.json_response(body)


@routes.get(API)
async def list_incidents(request: web.Request) -> web.Response:
    """`page[size]` (max 100) and `page[offset]`, oldest first."""
    state = request.app[STATE]
    try:
        size = min(int(request.query.get("page[size]") or 10), 100)
        offset = int(request.query.get("page[offset]") or 0)
    except ValueError:
        return error(400, "page[size] and page[offset] must be integers")
    everything = list(state.incidents.values())
    page = everything[offset : offset + size]
    pagination: JSON = {"offset": offset, "size": size}
    if offset + size < len(everything):
        pagination["next_offset"] = offset + size
    return web.json_response(
        {
            "data": [render(i, state.config) for i in page],
            "included": [],
            "meta": {"pagination": pagination},
        }
    )


@routes.get(API + "/{id}")
async def get(request: web.Request) -> web.Response:
    state, incident = _incident(request)
    return web.json_response({"data": render(incident, state.config), "included": []})


@routes.patch(API + "/{id}")
async def update(request: web.Request) -> web.Response:
    state, incident = _incident(request)
    try:
        data = await _data(request)
        if data.get("id") != incident.id:
            raise ValueError("data.id must match the path")
        title, updates = _apply(incident, data.get("attributes"))
    except ValueError as exc:
        return error(400, str(exc))
    state.api_writes[incident.id] += 1
    if _write(state, incident, title, updates, state.config.user_id):
        _announce(request, state, incident)
    return web.json_response({"data": render(incident, state.config)})


@routes.patch("/_sandbox/incidents/{id}")
async def ui_edit(request: web.Request) -> web.Response:
    """A responder's edit: `{"title", "state", "severity", "summary"}` as plain values, and
    `fields`: other fields in the API's shape."""
    state, incident = _incident(request)
    body = await object_body(request, lambda: error(400, "the body must be a JSON object"))
    fields = {k: {"value": body[k]} for k in ("state", "severity", "summary") if k in body}
    if isinstance(body.get("fields"), dict):
        fields.update(body["fields"])
    try:
        title, updates = _apply(incident, {"title": body.get("title"), "fields": fields})
    except ValueError as exc:
        return error(400, str(exc))
    if _write(state, incident, title, updates, "human-" + secrets.token_hex(4)):
        _announce(request, state, incident)
    return web.json_response({"data": render(incident, state.config)})


def _controls(state: State) -> Controls:
    return counter_controls(
        state.api_writes, ("incidents", state.incidents), state.sender, state.faults
    )


def build_app(config: DatadogConfig | None = None) -> web.Application:
    config = config or DatadogConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    state = State(config, sender, ApiFaults())
    faults_mw = fault_middleware(
        lambda r: r.app[STATE].faults, ("/api/",), lambda s: error(s, "Rate limit exceeded")
    )
    return sandbox_app(
        STATE,
        state,
        sender=sender,
        middlewares=[faults_mw, authenticate],
        routes=[routes, fieldconfig.routes, control_routes(STATE, _controls)],
    )
