"""PagerDuty REST API v2 routes: `Token token=` auth, `From` on writes, PD error shapes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from incident_sync.sandbox.base import found
from incident_sync.sandbox.pagerduty import render, webhooks
from incident_sync.sandbox.pagerduty.state import STATE, State
from incident_sync.sandbox.pagerduty.store import POLICIES, PRIORITIES, Incident, PdError
from incident_sync.sandbox.routes import Routes

T = TypeVar("T")
JSON = dict[str, Any]
ACTOR_KEY = web.RequestKey("pd_actor", str)
API_PREFIXES = (
    "/incidents",
    "/log_entries",
    "/users",
    "/escalation_policies",
    "/priorities",
    "/abilities",
)


def error(status: int, message: str, code: int, errors: list[str] | None = None) -> web.Response:
    body: JSON = {"error": {"message": message, "code": code}}
    if errors is not None:
        body["error"]["errors"] = errors
    return web.json_response(body, status=status)


def error_for_status(status: int) -> web.Response:
    if status == 429:
        return error(429, "Rate Limit Exceeded", 2020)
    return error(status, "Internal Server Error", 2000)


def from_exc(exc: PdError) -> web.Response:
    return error(exc.status, exc.message, exc.code, exc.errors)


def not_found() -> web.Response:
    return error(404, "Not Found", 2100)


# A store's PdError raised in a handler is answered in PagerDuty's shape (`from_exc`).
routes = Routes().answering(PdError, from_exc)


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(API_PREFIXES):
        state = request.app[STATE]
        if request.headers.get("Authorization") != f"Token token={state.config.api_token}":
            return error(401, "Authentication failed", 2006)
        if request.method != "GET":
            sender = state.store.user_by_email(request.headers.get("From", ""))
            if sender is None:
                return error(400, "Invalid Input Provided", 2001, ["Requester User Not Found"])
            request[ACTOR_KEY] = sender.id
    response: web.StreamResponse = await handler(request)
    return response


async def _body(request: web.Request, key: str) -> JSON:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PdError("Invalid Input Provided", ["The request body is not valid JSON"]) from None
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise PdError("Invalid Input Provided", [f"{key} is required"])
    inner: JSON = body[key]
    return inner


def _incident(request: web.Request, state: State) -> Incident:
    """The incident the path names, or else a `Refusal` with PagerDuty's 404."""
    return found(state.store.incidents.get(request.match_info["id"]), not_found)


def limit_offset(query: Any) -> tuple[int, int]:
    """Classic pagination's `limit` (25 by default, 100 at most) and `offset` (0), or else a
    PdError (400, Invalid Input Provided) naming the value that is not a number."""
    try:
        return min(int(query.get("limit") or 25), 100), int(query.get("offset") or 0)
    except ValueError as exc:
        raise PdError("Invalid Input Provided", [str(exc)]) from None


def paged(
    request: web.Request, name: str, items: Sequence[T], shown: Callable[[T], JSON]
) -> web.Response:
    """One page of `items` under `name` with classic pagination's `limit`, `offset` and
    `more`; `total` is counted only when asked for (`total=true`), as PagerDuty does."""
    limit, offset = limit_offset(request.query)
    return web.json_response(
        {
            name: [shown(item) for item in items[offset : offset + limit]],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if request.query.get("total") == "true" else None,
        }
    )


@routes.get("/abilities")
async def abilities(request: web.Request) -> web.Response:
    return web.json_response({"abilities": ["teams", "read_only_users", "urgencies"]})


@routes.get("/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    incidents = list(state.store.incidents.values())
    if key := q.get("incident_key"):
        incidents = [i for i in incidents if i.incident_key == key]
    statuses = q.getall("statuses[]", [])
    if statuses:
        incidents = [i for i in incidents if i.status in statuses]
    return paged(request, "incidents", incidents, lambda i: render.incident(state.store, i))


@routes.get("/log_entries")
async def log_entries(request: web.Request) -> web.Response:
    """The account's log, newest first, within `since`/`until` (ISO 8601)."""
    state = request.app[STATE]
    q = request.query
    try:
        since = parse_time(q["since"]) if "since" in q else None
        until = parse_time(q["until"]) if "until" in q else None
    except ValueError as exc:
        return error(400, "Invalid Input Provided", 2001, [str(exc)])
    entries = [
        e
        for e in reversed(state.store.log)
        if (since is None or e[0] >= since) and (until is None or e[0] < until)
    ]
    return paged(request, "log_entries", entries, lambda e: render.log_entry(state.store, *e))


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@routes.post("/incidents")
async def create_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request, "incident")
    if body.get("type") != "incident":
        raise PdError("Invalid Input Provided", ["type must be incident"])
    incident = state.store.create(body, request[ACTOR_KEY])
    state.store.record_api_write(incident.id, "create")
    webhooks.incident_events(request, state, incident, ["incident.triggered"], request[ACTOR_KEY])
    return web.json_response({"incident": render.incident(state.store, incident)}, status=201)


@routes.get("/incidents/{id}")
async def get_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    return web.json_response({"incident": render.incident(state.store, incident)})


@routes.put("/incidents/{id}")
async def update_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    body = await _body(request, "incident")
    if body.get("type") not in ("incident", "incident_reference"):
        raise PdError("Invalid Input Provided", ["type must be incident_reference"])
    events = state.store.update(incident, body, request[ACTOR_KEY])
    state.store.record_api_write(incident.id, "update")
    webhooks.incident_events(request, state, incident, events, request[ACTOR_KEY])
    return web.json_response({"incident": render.incident(state.store, incident)})


@routes.get("/incidents/{id}/notes")
async def list_notes(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    return web.json_response({"notes": [render.note(state.store, n) for n in incident.notes]})


@routes.post("/incidents/{id}/notes")
async def add_note(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    body = await _body(request, "note")
    note = state.store.add_note(incident, body.get("content"), request[ACTOR_KEY])
    state.store.record_api_write(incident.id, "note")
    webhooks.annotated(request, state, incident, note)
    return web.json_response({"note": render.note(state.store, note)}, status=201)


def _user(state: State, user_id: str) -> JSON:
    user = state.store.users[user_id]
    return {
        **render.user_ref(state.store, user_id),
        "type": "user",
        "name": user.name,
        "email": user.email,
        "role": "user",
        "time_zone": "Etc/UTC",
    }


@routes.get("/users")
async def list_users(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = request.query.get("query", "").lower()
    users = [
        _user(state, u.id)
        for u in state.store.users.values()
        if query in u.email.lower() or query in u.name.lower()
    ]
    return web.json_response({"users": users, "limit": 25, "offset": 0, "more": False})


@routes.get("/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.match_info["id"] not in state.store.users:
        return not_found()
    return web.json_response({"user": _user(state, request.match_info["id"])})


@routes.get("/escalation_policies")
async def list_policies(request: web.Request) -> web.Response:
    query = request.query.get("query", "").lower()
    policies = [
        {**render.policy(pid), "type": "escalation_policy", "name": name}
        for pid, name in POLICIES
        if query in name.lower()
    ]
    return web.json_response({"escalation_policies": policies, "more": False})


@routes.get("/priorities")
async def list_priorities(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}"

    def shown(priority: tuple[str, str]) -> JSON:
        pid, name = priority
        return {
            "id": pid,
            "type": "priority",
            "summary": name,
            "self": f"{base}/priorities/{pid}",
            "name": name,
            "description": f"Priority {name} of the sandbox account",
        }

    return paged(request, "priorities", PRIORITIES, shown)
