"""`/_sandbox`: a responder in the PagerDuty UI, plus stats, faults and reset (no auth)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from incident_sync.sandbox.base import bad, found, json_body, record_and_body, store_control_routes
from incident_sync.sandbox.pagerduty import fieldvalues, render, webhooks
from incident_sync.sandbox.pagerduty.state import STATE, State
from incident_sync.sandbox.pagerduty.store import (
    POLICIES,
    PRIORITIES,
    SERVICE_ID,
    Incident,
    PdError,
)


def _refused(exc: PdError) -> web.Response:
    """A store's refusal as a UI one: its reasons, or else its message."""
    return bad("; ".join(exc.errors) or exc.message)


# stats, faults and reset (`sandbox.base`), then this tool's own UI routes
routes = store_control_routes(
    STATE, ("incidents", lambda s: len(s.store.incidents)), lambda s: s.faults
).answering(PdError, _refused)
JSON = dict[str, Any]


def view(state: State, incident: Incident) -> JSON:
    users = state.store.users
    return {
        **render.incident(state.store, incident),
        "priority_name": dict(PRIORITIES).get(incident.priority_id or ""),
        "escalation_policy_name": dict(POLICIES)[incident.policy_id],
        "assignee_emails": [users[u].email for u in incident.assignees],
        "notes": [render.note(state.store, n) for n in incident.notes],
        "custom_field_values": {v["name"]: v["value"] for v in fieldvalues.values(incident)},
    }


def _actor(state: State, body: JSON) -> str | None:
    user = state.store.user_by_email(str(body.pop("user", state.config.human)))
    return user.id if user else None


async def _edit(request: web.Request) -> tuple[State, Incident, JSON, str]:
    """The state, the incident the path names, the body and the user it names (`user`, the
    responder by default), or else a `Refusal` (404, 400, unknown user)."""
    state = request.app[STATE]
    stored = state.store.incidents.get(request.match_info["id"])
    incident, body = await record_and_body(request, stored, "incident")
    return state, incident, body, found(_actor(state, body), lambda: bad("unknown user"))


def _native(state: State, body: JSON) -> JSON:
    """UI values (names, e-mail addresses) -> the API's update shape."""
    out: JSON = {k: body[k] for k in ("title", "status", "urgency") if k in body}
    if "priority" in body:
        out["priority"] = body["priority"]  # by name, as the API allows
    if "escalation_policy" in body:
        pid = next((p for p, n in POLICIES if n == body["escalation_policy"]), "?")
        out["escalation_policy"] = {"id": pid, "type": "escalation_policy_reference"}
    if "assignee" in body:
        user = state.store.user_by_email(str(body["assignee"]))
        out["assignments"] = [{"assignee": {"id": user.id if user else "?"}}]
    return out


@routes.post("/_sandbox/incidents")
async def ui_trigger(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await json_body(request)
    actor = _actor(state, body) if body is not None else None
    if body is None or actor is None:
        return bad("body must be a JSON object naming a known user")
    native = _native(state, body)
    native["service"] = {"id": SERVICE_ID}
    if "incident_key" in body:
        native["incident_key"] = body["incident_key"]
    incident = state.store.create(native, actor)
    webhooks.incident_events(request, state, incident, ["incident.triggered"], actor)
    return web.json_response(view(state, incident), status=201)


@routes.get("/_sandbox/incidents/{id}")
async def ui_show(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = state.store.incidents.get(request.match_info["id"])
    incident = found(incident, lambda: bad("no such incident", 404))
    return web.json_response(view(state, incident))


@routes.get("/_sandbox/incidents")
async def ui_list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    key = request.query.get("incident_key")
    found = [i for i in state.store.incidents.values() if key is None or i.incident_key == key]
    return web.json_response({"incidents": [view(state, i) for i in found]})


@routes.post("/_sandbox/incidents/{id}/edit")
async def ui_edit(request: web.Request) -> web.Response:
    state, incident, body, actor = await _edit(request)
    events = state.store.update(incident, _native(state, body), actor)
    webhooks.incident_events(request, state, incident, events, actor)
    return web.json_response(view(state, incident))


@routes.post("/_sandbox/incidents/{id}/notes")
async def ui_note(request: web.Request) -> web.Response:
    state, incident, body, actor = await _edit(request)
    note = state.store.add_note(incident, body.get("content"), actor)
    webhooks.annotated(request, state, incident, note)
    return web.json_response({"id": note.id}, status=201)


@routes.post("/_sandbox/incidents/{id}/custom_fields")
async def ui_custom_fields(request: web.Request) -> web.Response:
    """A responder sets custom field values: `{"values": {name: value}}`."""
    state, incident, body, actor = await _edit(request)
    given = body.get("values")
    items = [{"name": k, "value": v} for k, v in given.items()] if isinstance(given, dict) else None
    changed = fieldvalues.set_values(state.store, incident, items, actor)
    if changed:
        data = fieldvalues.event_data(incident, changed)
        webhooks.send(request, state, fieldvalues.EVENT, data, actor)
    return web.json_response(view(state, incident))
