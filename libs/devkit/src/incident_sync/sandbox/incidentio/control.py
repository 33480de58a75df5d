"""`/_sandbox`: a human in the incident.io UI, plus stats and reset for tests (no auth)."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from incident_sync.sandbox.base import bad, found, object_body, store_control_routes
from incident_sync.sandbox.incidentio import webhooks
from incident_sync.sandbox.incidentio.catalog import CATALOG_TEAM_FIELD, JSON, SERVICE_FIELD
from incident_sync.sandbox.incidentio.state import STATE, State
from incident_sync.sandbox.incidentio.store import VISIBILITIES, Incident
from incident_sync.sandbox.routes import Refusal

# stats, faults and reset (`sandbox.base`; the API's faults: `with_api_faults`), then this
# tool's own UI routes
routes = store_control_routes(STATE, ("incidents", lambda s: len(s.store.incidents)))

UI_USER: JSON = {
    "user": {
        "id": "01HSANDBOXUSER000000000001",
        "name": "Jane Responder",
        "email": "jane@example.com",
        "role": "responder",
        "slack_user_id": "U0SANDBOX01",
    }
}


def _incident(request: web.Request) -> tuple[State, Incident]:
    """The state and the incident the path names, or else a `Refusal` (404)."""
    state = request.app[STATE]
    missing = {"error": "incident not found"}
    incident = state.store.get(request.match_info["id"])
    return state, found(incident, lambda: web.json_response(missing, status=404))


def _body(request: web.Request) -> Awaitable[JSON]:
    """The request's JSON object, or else a `Refusal` (400)."""
    return object_body(request, lambda: bad("body must be a JSON object"))


def _updates(state: State, body: JSON) -> JSON:
    """The store updates the UI fields of `body` ask for, or else a `Refusal` (400)."""
    updates = _ui_updates(state, body)
    if isinstance(updates, str):
        raise Refusal(bad(updates))
    return updates


def _ui_updates(state: State, body: JSON) -> JSON | str:
    """UI fields (names, not ids) -> store updates, or an error message."""
    catalog = state.store.catalog
    updates: JSON = {k: body[k] for k in ("name", "summary", "call_url") if k in body}
    if "update_message" in body:
        updates["update_message"] = body["update_message"]
    if body.get("status"):
        status = catalog.status_by_name_or_category(str(body["status"]))
        if status is None:
            return f"unknown status {body['status']!r}"
        updates["status_id"] = status["id"]
    if body.get("severity"):
        severity = catalog.severity_by_name(str(body["severity"]))
        if severity is None:
            return f"unknown severity {body['severity']!r}"
        updates["severity_id"] = severity["id"]
    for key, name in (("external_work_notes", "External work notes"), ("service", SERVICE_FIELD)):
        if key not in body:  # a seeded text custom field, by its UI name
            continue
        field = catalog.custom_field_by_name(name)
        assert field is not None
        text = body[key]
        updates.setdefault("custom_values", {})[field["id"]] = (
            [{"value_text": text}] if text else []
        )
    for key, name in (("priority", "Priority"), ("team", "Affected team")):
        if key not in body:  # a single-select, by option value
            continue
        field = catalog.custom_field_by_name(name)
        assert field is not None
        option = next((o for o in catalog.options_of(field["id"]) if o["value"] == body[key]), None)
        if body[key] and option is None:
            return f"unknown {key} {body[key]!r}"
        values = [{"value_option_id": option["id"]}] if option else []
        updates.setdefault("custom_values", {})[field["id"]] = values
    if "team_entry" in body:  # the catalog-backed Team, by the entry's name
        field = catalog.custom_field_by_name(CATALOG_TEAM_FIELD)
        assert field is not None
        named = catalog.catalog_entries_named(field["catalog_type_id"], str(body["team_entry"]))
        if body["team_entry"] and not named:
            return f"unknown team {body['team_entry']!r}"
        values = [{"value_catalog_entry_id": named[0]["id"]}] if body["team_entry"] else []
        updates.setdefault("custom_values", {})[field["id"]] = values
    if "lead" in body:  # the incident lead, by e-mail address (None unassigns)
        user = catalog.user({"email": str(body["lead"])}) if body["lead"] else None
        if body["lead"] and user is None:
            return f"unknown user {body['lead']!r}"
        updates["lead"] = user
    return updates


@routes.post("/_sandbox/incidents")
async def ui_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    visibility = body.get("visibility", "public")
    if visibility not in VISIBILITIES:
        return bad("visibility must be public or private")
    updates = _updates(state, body)
    change = state.store.create(
        creator=UI_USER,
        name=updates.get("name"),
        visibility=visibility,
        mode=str(body.get("mode", "standard")),
        summary=updates.get("summary"),
        status_id=updates.get("status_id"),
        severity_id=updates.get("severity_id"),
        custom_values=updates.get("custom_values"),
        update_message=updates.get("update_message"),
        lead=updates.get("lead"),
    )
    webhooks.announce(request, state, change)
    return web.json_response({"incident": state.store.render(change.incident, webhook=True)})


@routes.post("/_sandbox/incidents/{id}/edit")
async def ui_edit(request: web.Request) -> web.Response:
    state, incident = _incident(request)
    updates = _updates(state, await _body(request))
    change = state.store.apply(incident, updates)
    webhooks.announce(request, state, change)
    return web.json_response(
        {"incident": state.store.render(incident, webhook=True), "changed": list(change.fields)}
    )


@routes.get("/_sandbox/incidents/{id}")
async def ui_show(request: web.Request) -> web.Response:
    state, incident = _incident(request)
    return web.json_response({"incident": state.store.render(incident, webhook=True)})
