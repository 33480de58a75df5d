"""The incident.io public API routes (Bearer auth, incident.io error shapes)."""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from incident_sync.sandbox.ids import rfc3339
from incident_sync.sandbox.incidentio import webhooks
from incident_sync.sandbox.incidentio.catalog import JSON, Catalog
from incident_sync.sandbox.incidentio.state import STATE, State
from incident_sync.sandbox.incidentio.store import MODES, VISIBILITIES, Incident, ValidationFailed

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]
MAX_PAGE_SIZE = 250
S_PATH, V_PATH = "incident_status_id", "severity_id"


def error(
    status: int, kind: str, code: str, message: str, field: str | None = None
) -> web.Response:
    item: JSON = {"code": code, "message": message}
    if field is not None:
        item["source"] = {"field": field}
    body = {"type": kind, "status": status, "request_id": str(uuid.uuid4()), "errors": [item]}
    return web.json_response(body, status=status)


def invalid(exc: ValidationFailed) -> web.Response:
    if exc.code == "bad_request":  # unparseable bodies are a 400, not a 422
        return error(400, "bad_request", exc.code, exc.message, exc.field)
    return error(422, "validation_error", exc.code, exc.message, exc.field)


def error_for_status(status: int) -> web.Response:
    """An injected fault, in the shape incident.io answers it."""
    if status == 429:
        return error(429, "rate_limited", "rate_limited", "Too many requests (injected fault)")
    return error(status, "internal_error", "internal_error", f"HTTP {status} (injected fault)")


def not_found() -> web.Response:
    return error(404, "not_found", "not_found", "The requested resource could not be found.")


def _authorized(request: web.Request, state: State) -> bool:
    return request.headers.get("Authorization", "") == f"Bearer {state.config.api_key}"


@web.middleware
async def require_api_key(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(("/v1/", "/v2/")) and not _authorized(request, request.app[STATE]):
        return error(
            401,
            "authentication_error",
            "authentication_error",
            "The API key provided is not valid.",
        )
    response: web.StreamResponse = await handler(request)
    return response


async def _json_body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationFailed("body", "request body is not valid JSON", "bad_request") from None
    if not isinstance(body, dict):
        raise ValidationFailed("body", "request body must be an object", "bad_request")
    return body


@routes.get("/v2/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    try:
        page_size = int(q.get("page_size") or 25)
    except ValueError:
        return invalid(ValidationFailed("page_size", "must be an integer"))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        return invalid(ValidationFailed("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    incidents = [
        i
        for i in state.store.listing(q.get("sort_by") != "created_at_oldest_first")
        if _matches_filters(state, i, q)
    ]
    start = 0
    if after := q.get("after"):
        ids = [i.id for i in incidents]
        start = ids.index(after) + 1 if after in ids else len(ids)
    page = incidents[start : start + page_size]
    meta: JSON = {"page_size": page_size, "total_record_count": len(incidents)}
    if start + page_size < len(incidents):
        meta["after"] = page[-1].id  # absent on the last page: the cursor loop ends
    rendered = [state.store.render(i) for i in page]
    return web.json_response({"incidents": rendered, "pagination_meta": meta})


def _filter_values(q: Any, name: str) -> list[str]:
    return [v for raw in q.getall(name, []) for v in raw.split(",") if v]


def _matches_filters(state: State, incident: Incident, q: Any) -> bool:
    """The status / status_category one_of|not_in filters and created_at / updated_at
    gte|lte (a date, or an RFC 3339 time); others are accepted and ignored."""
    status = state.store.catalog.status(incident.status_id) or {}
    for name, actual in (
        ("status", incident.status_id),
        ("status_category", status.get("category")),
    ):
        one_of = _filter_values(q, f"{name}[one_of]")
        if one_of and actual not in one_of:
            return False
        if actual in _filter_values(q, f"{name}[not_in]"):
            return False
    for name, moment in (("created_at", incident.created_at), ("updated_at", incident.updated_at)):
        for op, keep in (("gte", operator.ge), ("lte", operator.le)):
            for value in _filter_values(q, f"{name}[{op}]"):
                if not keep(_bound(moment, value), value):
                    return False
    return True


def _bound(moment: datetime, value: str) -> str:
    """The incident's time in the filter value's own precision: a date compares by day."""
    text = rfc3339(moment)
    return text[:10] if len(value) == 10 else text


@routes.get("/v2/incidents/{id}")
async def show_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = state.store.get(request.match_info["id"])
    if incident is None:
        return not_found()
    return web.json_response({"incident": state.store.render(incident)})


@routes.post("/v2/incidents")
async def create_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    store = state.store
    try:
        body = await _json_body(request)
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            raise ValidationFailed("idempotency_key", "idempotency_key is required", "missing")
        visibility = body.get("visibility")
        if visibility not in VISIBILITIES:
            raise ValidationFailed("visibility", "must be one of public, private", "missing")
        if body.get("mode", "standard") not in MODES:
            raise ValidationFailed("mode", f"must be one of {', '.join(MODES)}")
        status_id = body.get("incident_status_id")
        sev_id = body.get("severity_id")
        entries = body.get("custom_field_entries", [])
        kwargs: JSON = {
            "name": _opt_str(body, "name"),
            "summary": _opt_str(body, "summary"),
            "status_id": None if status_id is None else store.check_status(status_id, S_PATH),
            "severity_id": None if sev_id is None else store.check_severity(sev_id, V_PATH),
            "custom_values": store.parse_custom_entries(entries, "custom_field_entries"),
        }
        if "incident_role_assignments" in body:
            kwargs.update(
                store.parse_role_assignments(
                    body["incident_role_assignments"], "incident_role_assignments"
                )
            )
    except ValidationFailed as exc:
        return invalid(exc)
    fields = [k for k in body if k not in ("idempotency_key", "visibility")]
    existing = store.by_idempotency_key.get(key)
    if existing is not None:
        # Same key = the same incident, nothing new is created or announced.
        store.record_api_write(existing, "create_replay", fields)
        return web.json_response({"incident": store.render(store.incidents[existing])})
    creator = {"api_key": {"id": state.api_key_id, "name": state.config.api_key_name}}
    change = store.create(
        creator=creator,
        visibility=str(visibility),
        mode=str(body.get("mode", "standard")),
        **kwargs,
    )
    store.by_idempotency_key[key] = change.incident.id
    store.record_api_write(change.incident.id, "create", fields)
    webhooks.announce(request, state, change)
    return web.json_response({"incident": store.render(change.incident)})


def _opt_str(body: JSON, key: str, path: str | None = None) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(path or key, "must be a string")
    return value


@routes.post("/v2/incidents/{id}/actions/edit")
async def edit_incident(request: web.Request) -> web.Response:
    state = request.app[STATE]
    store = state.store
    incident = store.get(request.match_info["id"])
    if incident is None:
        return not_found()
    try:
        body = await _json_body(request)
        fields = body.get("incident")
        if not isinstance(fields, dict):
            raise ValidationFailed("incident", "incident is required", "missing")
        if not isinstance(body.get("notify_incident_channel"), bool):
            raise ValidationFailed(
                "notify_incident_channel", "notify_incident_channel is required", "missing"
            )
        updates = _edit_updates(state, fields)
    except ValidationFailed as exc:
        return invalid(exc)
    store.record_api_write(incident.id, "edit", list(fields))
    change = store.apply(incident, updates)
    webhooks.announce(request, state, change)
    return web.json_response({"incident": store.render(incident)})


def _edit_updates(state: State, fields: JSON) -> JSON:
    """Translate the edit payload; role/timestamp/slack fields are accepted and ignored."""
    store = state.store
    updates: JSON = {}
    for key in ("name", "summary", "call_url"):
        if key in fields:
            updates[key] = _opt_str(fields, key, f"incident.{key}")
    if "name" in updates and not updates["name"]:
        raise ValidationFailed("incident.name", "name must not be empty")
    if "severity_id" in fields:
        updates["severity_id"] = store.check_severity(fields["severity_id"], "incident.severity_id")
    if "incident_status_id" in fields:
        updates["status_id"] = store.check_status(
            fields["incident_status_id"], "incident.incident_status_id"
        )
    if "custom_field_entries" in fields:
        updates["custom_values"] = store.parse_custom_entries(
            fields["custom_field_entries"], "incident.custom_field_entries"
        )
    if "incident_role_assignments" in fields:
        updates.update(
            store.parse_role_assignments(
                fields["incident_role_assignments"], "incident.incident_role_assignments"
            )
        )
    return updates


# The catalog's lists, each answered whole (no paging) under its name: (path, name, list).
CATALOG_LISTS: tuple[tuple[str, str, Callable[[Catalog], list[JSON]]], ...] = (
    ("/v1/incident_statuses", "incident_statuses", lambda c: c.statuses),
    ("/v1/severities", "severities", lambda c: c.severities),
    ("/v2/custom_fields", "custom_fields", lambda c: c.custom_fields),
    ("/v2/incident_roles", "incident_roles", lambda c: c.incident_roles),
)


def _catalog_list(name: str, items: Callable[[Catalog], list[JSON]]) -> Handler:
    async def listed(request: web.Request) -> web.Response:
        return web.json_response({name: items(request.app[STATE].store.catalog)})

    return listed


for _path, _name, _items in CATALOG_LISTS:
    routes.get(_path)(_catalog_list(_name, _items))


@routes.get("/v3/catalog_entries")
async def list_catalog_entries(request: web.Request) -> web.Response:
    """A catalog type's entries (`catalog_type_id`, required), those `identifier` names when
    given (a name, an alias or the external id), paged by `after` as documented."""
    catalog = request.app[STATE].store.catalog
    type_id = request.query.get("catalog_type_id", "")
    kind = next((t for t in catalog.catalog_types if t["id"] == type_id), None)
    if kind is None:
        return invalid(ValidationFailed("catalog_type_id", "Catalog type not found", "not_found"))
    try:
        page_size = int(request.query.get("page_size") or 25)
    except ValueError:
        return invalid(ValidationFailed("page_size", "must be an integer"))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        return invalid(ValidationFailed("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    identifier = request.query.get("identifier")
    entries = (
        catalog.catalog_entries_named(type_id, identifier)
        if identifier is not None
        else [e for e in catalog.catalog_entries if e["catalog_type_id"] == type_id]
    )
    start = 0
    if after := request.query.get("after"):
        ids = [e["id"] for e in entries]
        start = ids.index(after) + 1 if after in ids else len(ids)
    page = entries[start : start + page_size]
    meta: JSON = {"page_size": page_size}
    if start + page_size < len(entries):
        meta["after"] = page[-1]["id"]
    return web.json_response(
        {"catalog_entries": page, "catalog_type": kind, "pagination_meta": meta}
    )


@routes.get("/v1/custom_field_options")
async def list_custom_field_options(request: web.Request) -> web.Response:
    catalog = request.app[STATE].store.catalog
    field_id = request.query.get("custom_field_id", "")
    if catalog.custom_field(field_id) is None:
        return invalid(ValidationFailed("custom_field_id", "Custom field not found", "not_found"))
    # Paged as documented: `page_size` (at most 250, 25 by default) after the option `after`.
    try:
        page_size = int(request.query.get("page_size") or 25)
    except ValueError:
        return invalid(ValidationFailed("page_size", "must be an integer"))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        return invalid(ValidationFailed("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    options = catalog.options_of(field_id)
    start = 0
    if after := request.query.get("after"):
        ids = [o["id"] for o in options]
        start = ids.index(after) + 1 if after in ids else len(ids)
    page = options[start : start + page_size]
    meta: JSON = {"page_size": page_size}
    if start + page_size < len(options):
        meta["after"] = page[-1]["id"]
    return web.json_response({"custom_field_options": page, "pagination_meta": meta})
