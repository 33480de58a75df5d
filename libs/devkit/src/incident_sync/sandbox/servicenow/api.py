"""Table API routes: `/api/now[/v1|/v2]/table/{table}[/{sys_id}]`, auth and rate limits."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from incident_sync.sandbox.base import found
from incident_sync.sandbox.routes import Refusal, Routes
from incident_sync.sandbox.servicenow import query, referenced, webhooks
from incident_sync.sandbox.servicenow.auth import sn_error, token_endpoint, unauthenticated
from incident_sync.sandbox.servicenow.render import ReadOptions, render
from incident_sync.sandbox.servicenow.schema import TABLES, Table
from incident_sync.sandbox.servicenow.state import STATE, State, user_sys_id
from incident_sync.sandbox.servicenow.store import DataPolicyError

routes = Routes()  # handlers raise `Refusal`s with ServiceNow's error bodies
DEFAULT_LIMIT = 10000
USER = web.RequestKey("sn_user", str)
_PREFIXES = ("/api/now/table/", "/api/now/v1/table/", "/api/now/v2/table/")
API_PREFIXES = ("/api/now/", "/oauth_token.do")  # where injected faults apply


def error_for_status(status: int) -> web.Response:
    """An injected fault, in the shape ServiceNow answers it."""
    if status == 429:
        return sn_error(429, "Rate limit exceeded", "Too many requests (injected fault)")
    return sn_error(status, "Internal server error", f"HTTP {status} (injected fault)")


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every Table API call needs a user; a matching rate-limit rule adds its headers."""
    if not request.path.startswith(_PREFIXES):
        response: web.StreamResponse = await handler(request)
        return response
    state = request.app[STATE]
    user = state.auth.user_of(request)
    if user is None:
        return unauthenticated()
    allowed, headers = state.auth.rate_limit(user)
    if not allowed:
        limit = state.auth.rate_limit_per_hour
        detail = f"Rate limit of {limit} requests per hour for Table API exceeded"
        denied = sn_error(429, "Rate limit exceeded", detail)
        denied.headers.update(headers)
        return denied
    request[USER] = user
    response = await handler(request)
    response.headers.update(headers)
    return response


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _names(state: State) -> dict[str, str]:
    """Display values by sys_id: users' names, and the seeded groups' and CIs'."""
    names = {user_sys_id(name): name for name in state.config.users}
    for table in referenced.SEEDED:
        names.update({k: row["name"] for k, row in state.store.rows[table].items()})
    return names


def _table(request: web.Request) -> Table:
    """The table the path names, or else a `Refusal` (400, Invalid table)."""
    name = request.match_info["table"]
    return found(TABLES.get(name), lambda: sn_error(400, f"Invalid table {name}", None))


def _not_found() -> web.Response:
    return sn_error(
        404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
    )


def _record(request: web.Request) -> tuple[State, Table, str]:
    """The state, the table and the sys_id of the stored record the path names, or else a
    `Refusal` (400 for the table, 404 for the record)."""
    state, table, key = request.app[STATE], _table(request), request.match_info["sys_id"]
    found(state.store.get(table.name, key), _not_found)
    return state, table, key


def _one(
    request: web.Request, table: Table, row: dict[str, str], status: int = 200
) -> web.Response:
    state = request.app[STATE]
    opts = ReadOptions.from_query(_base_url(request), request.query)
    return web.json_response({"result": render(table, row, opts, _names(state))}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object the request carries, or else a `Refusal` (400)."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        detail = "The payload is not valid JSON."
        raise Refusal(sn_error(400, "Exception while reading request", detail))
    return body


@routes.post("/oauth_token.do")
async def oauth_token(request: web.Request) -> web.Response:
    return await token_endpoint(request, request.app[STATE].auth)


@routes.get(r"/api/now/table/{table}")
@routes.get(r"/api/now/{version:v[12]}/table/{table}")
async def list_records(request: web.Request) -> web.Response:
    state, table = request.app[STATE], _table(request)
    q = request.query
    try:
        limit = int(q.get("sysparm_limit") or DEFAULT_LIMIT)
        offset = int(q.get("sysparm_offset") or 0)
    except ValueError:
        return sn_error(400, "Invalid sysparm_limit or sysparm_offset", None)
    parsed = query.parse(q.get("sysparm_query", ""), table.columns)
    # Name-value pairs (`&active=true`) are an alternative to sysparm_query.
    for name, value in q.items():
        if name in table.columns:
            parsed.alternatives = parsed.alternatives or [[]]
            for conjunction in parsed.alternatives:
                conjunction.append([query.Term(name, "=", value)])
    matched = parsed.apply(state.store.rows[table.name].values())
    page = matched[offset : offset + limit]
    if not page and request.match_info.get("version") == "v1":
        return sn_error(
            404,
            "No Record found",
            "Records matching query not found. Check query parameter or offset parameter",
        )
    opts = ReadOptions.from_query(_base_url(request), q)
    names = _names(state)
    response = web.json_response({"result": [render(table, r, opts, names) for r in page]})
    response.headers["X-Total-Count"] = str(len(matched))
    response.headers["Link"] = _links(request, offset, limit, len(matched))
    return response


def _links(request: web.Request, offset: int, limit: int, total: int) -> str:
    def url(at: int) -> str:
        params = {**request.query, "sysparm_offset": str(at), "sysparm_limit": str(limit)}
        return f"{_base_url(request)}{request.path}?{urlencode(params)}"

    last = max(0, (total - 1) // limit * limit) if limit > 0 else 0
    links = [f'<{url(0)}>;rel="first"']
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>;rel="next"')
    links.append(f'<{url(last)}>;rel="last"')
    return ",".join(links)


@routes.get(r"/api/now/table/{table}/{sys_id}")
@routes.get(r"/api/now/{version:v[12]}/table/{table}/{sys_id}")
async def get_record(request: web.Request) -> web.Response:
    state, table, key = _record(request)
    return _one(request, table, state.store.rows[table.name][key])


def _writable(table: Table) -> None:
    """Nothing, or else a `Refusal` (403) for a read-only table."""
    if table.read_only:
        detail = "ACL Exception Insert Failed due to security constraints"
        raise Refusal(sn_error(403, "Operation Failed", detail))


@routes.post(r"/api/now/table/{table}")
@routes.post(r"/api/now/{version:v[12]}/table/{table}")
async def insert_record(request: web.Request) -> web.Response:
    state, table = request.app[STATE], _table(request)
    body = await _body(request)
    _writable(table)
    try:
        write = state.store.insert(table.name, body, state.actor(request[USER]))
    except DataPolicyError as exc:
        return sn_error(403, "Operation Failed", str(exc))
    state.store.record_api_write(table.name, write.record["sys_id"], "insert", body)
    webhooks.announce(request, state, write)
    response = _one(request, table, write.record, status=201)
    response.headers["Location"] = (
        f"{_base_url(request)}/api/now/table/{table.name}/{write.record['sys_id']}"
    )
    return response


@routes.route("PATCH", r"/api/now/table/{table}/{sys_id}")
@routes.route("PATCH", r"/api/now/{version:v[12]}/table/{table}/{sys_id}")
@routes.put(r"/api/now/table/{table}/{sys_id}")
@routes.put(r"/api/now/{version:v[12]}/table/{table}/{sys_id}")
async def update_record(request: web.Request) -> web.Response:
    """PATCH and PUT behave the same: a partial update of the supplied fields."""
    state, table, key = _record(request)
    body = await _body(request)
    _writable(table)
    try:
        write = state.store.update(table.name, key, body, state.actor(request[USER]))
    except DataPolicyError as exc:
        return sn_error(403, "Operation Failed", str(exc))
    state.store.record_api_write(table.name, key, "update", body)
    webhooks.announce(request, state, write)
    return _one(request, table, write.record)


@routes.delete(r"/api/now/table/{table}/{sys_id}")
@routes.delete(r"/api/now/{version:v[12]}/table/{table}/{sys_id}")
async def delete_record(request: web.Request) -> web.Response:
    state, table, key = _record(request)
    _writable(table)
    write = state.store.delete(table.name, key, state.actor(request[USER]))
    state.store.record_api_write(table.name, key, "delete")
    webhooks.announce(request, state, write)
    return web.Response(status=204)
