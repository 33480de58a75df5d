"""Jira Cloud REST API v3 routes (basic auth with API tokens, Jira's error shapes)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aiohttp import web

from incident_sync.sandbox.base import found
from incident_sync.sandbox.jira import webhooks
from incident_sync.sandbox.jira.jql import other_clause
from incident_sync.sandbox.jira.render import Renderer
from incident_sync.sandbox.jira.state import STATE, State
from incident_sync.sandbox.jira.store import RESOLUTIONS, Issue
from incident_sync.sandbox.jira.values import JiraError
from incident_sync.sandbox.routes import Routes

JSON = dict[str, Any]
API = "/rest/api/3"
USER_KEY = web.RequestKey("jira_user", str)


def error(status: int, messages: list[str], errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": messages, "errors": errors or {}}, status=status)


def error_for_status(status: int) -> web.Response:
    return error(status, ["Rate limit exceeded." if status == 429 else "Internal server error"])


def from_exc(exc: JiraError) -> web.Response:
    return error(exc.status, exc.messages, exc.errors)


def issue_missing() -> web.Response:
    return error(404, ["Issue does not exist or you do not have permission to see it."])


# A store's JiraError raised in a handler is answered in Jira's shape (`from_exc`).
routes = Routes().answering(JiraError, from_exc)


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/rest/"):
        state = request.app[STATE]
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        account = None
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                email, token = "", ""
            account = state.user_for_token(email, token)
        if account is None:
            return web.Response(
                status=401, text="Client must be authenticated to access this resource."
            )
        request[USER_KEY] = account
    response: web.StreamResponse = await handler(request)
    return response


def _renderer(request: web.Request, state: State) -> Renderer:
    return Renderer(state.store, f"{request.scheme}://{request.host}", 3)


async def _body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JiraError("Unexpected character: the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise JiraError("The request body must be a JSON object")
    return body


def _issue(request: web.Request) -> tuple[State, Issue]:
    """The sandbox's state and the issue the path names, or else a `Refusal` (Jira's 404)."""
    state = request.app[STATE]
    return state, found(state.store.get(request.match_info["key"]), issue_missing)


def _wanted(request: web.Request) -> set[str] | None:
    raw = request.query.get("fields")
    return {f.strip() for f in raw.split(",") if f.strip()} if raw else None


@routes.get(API + "/myself")
async def myself(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(_renderer(request, state).user(request[USER_KEY]))


@routes.post(API + "/issue")
async def create_issue(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise JiraError("The request must contain fields")
    issue = state.store.create(fields, request[USER_KEY])
    for prop in body.get("properties") or []:
        if isinstance(prop, dict) and isinstance(prop.get("key"), str):
            issue.properties[prop["key"]] = prop.get("value")
    state.store.record_api_write(issue.id, "create")
    webhooks.issue_event(request, state, "jira:issue_created", issue, request[USER_KEY])
    r = _renderer(request, state)
    return web.json_response(
        {"id": issue.id, "key": issue.key, "self": r.issue(issue)["self"]}, status=201
    )


@routes.get(API + "/issue/{key}")
async def get_issue(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    return web.json_response(_renderer(request, state).issue(issue, _wanted(request)))


@routes.put(API + "/issue/{key}")
async def edit_issue(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    body = await _body(request)
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise JiraError("fields must be an object")
    if body.get("transition") is not None:
        pass  # accepted and ignored, as the real edit does
    items = state.store.edit(issue, fields)
    state.store.record_api_write(issue.id, "edit")
    if items:
        webhooks.issue_event(
            request, state, "jira:issue_updated", issue, request[USER_KEY], items=items
        )
    if request.query.get("returnIssue") == "true":  # the issue as stored, as a GET shows it
        edited = set(fields) | {"updated"}
        return web.json_response(_renderer(request, state).issue(issue, edited))
    return web.Response(status=204)


@routes.get(API + "/issue/{key}/transitions")
async def list_transitions(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    r = _renderer(request, state)
    with_fields = "transitions.fields" in request.query.get("expand", "")
    out = []
    for tid, name, _, to, needs_resolution in state.store.available_transitions(issue):
        item: JSON = {
            "id": tid,
            "name": name,
            "to": r.status(to),
            "hasScreen": needs_resolution,
            "isGlobal": False,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if with_fields:
            item["fields"] = (
                {
                    "resolution": {
                        "required": True,
                        "schema": {"type": "resolution", "system": "resolution"},
                        "name": "Resolution",
                        "key": "resolution",
                        "hasDefaultValue": False,
                        "operations": ["set"],
                        "allowedValues": [
                            {"self": f"{r.base}{API}/resolution/{rid}", "id": rid, "name": rname}
                            for rid, rname in RESOLUTIONS
                        ],
                    }
                }
                if needs_resolution
                else {}
            )
        out.append(item)
    return web.json_response({"expand": "transitions", "transitions": out})


@routes.post(API + "/issue/{key}/transitions")
async def do_transition(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    body = await _body(request)
    transition = body.get("transition")
    if not isinstance(transition, dict) or not isinstance(transition.get("id"), str):
        raise JiraError("Missing 'transition' identifier")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise JiraError("fields must be an object")
    items = state.store.transition(issue, transition["id"], fields)
    state.store.record_api_write(issue.id, "transition")
    if items:
        webhooks.issue_event(
            request, state, "jira:issue_updated", issue, request[USER_KEY], items=items
        )
    return web.Response(status=204)


def _expand(request: web.Request) -> frozenset[str]:
    return frozenset(e.strip() for e in request.query.get("expand", "").split(",") if e.strip())


@routes.get(API + "/issue/{key}/comment")
async def list_comments(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    r = _renderer(request, state)
    comments = [r.comment(issue, c, _expand(request)) for c in issue.comments]
    return web.json_response(
        {"startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments}
    )


@routes.post(API + "/issue/{key}/comment")
async def add_comment(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    body = await _body(request)
    comment = state.store.add_comment(
        issue, body.get("body"), request[USER_KEY], body.get("properties")
    )
    state.store.record_api_write(issue.id, "comment")
    webhooks.comment_added(request, state, issue, comment, request[USER_KEY])
    rendered = _renderer(request, state).comment(issue, comment, _expand(request))
    return web.json_response(rendered, status=201)


@routes.get(API + "/issue/{key}/comment/{id}")
async def get_comment(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    comment = state.store.comment(issue, request.match_info["id"])
    return web.json_response(_renderer(request, state).comment(issue, comment, _expand(request)))


@routes.put(API + "/issue/{key}/comment/{id}")
async def update_comment(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    body = await _body(request)
    comment = state.store.update_comment(
        issue,
        request.match_info["id"],
        body.get("body"),
        request[USER_KEY],
        body.get("properties"),
    )
    state.store.record_api_write(issue.id, "comment_update")
    webhooks.comment_event(request, state, "comment_updated", issue, comment)
    return web.json_response(_renderer(request, state).comment(issue, comment, _expand(request)))


@routes.delete(API + "/issue/{key}/comment/{id}")
async def delete_comment(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    comment = state.store.delete_comment(issue, request.match_info["id"])
    state.store.record_api_write(issue.id, "comment_delete")
    webhooks.comment_event(request, state, "comment_deleted", issue, comment)
    return web.Response(status=204)


@routes.get(API + "/user/search")
async def user_search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = request.query.get("query", "").strip().lower()
    r = _renderer(request, state)
    found = [
        r.user(u.account_id)
        for u in state.store.users.values()
        if query and (query in u.email.lower() or query in u.display_name.lower())
    ]
    return web.json_response(found)


# -- search: a JQL subset (labels, project, status category, id/key in, updated >=; AND;
# ORDER BY ignored) --------------------------------------------------------------------------
_CLAUSE = re.compile(
    r"^\s*(?P<field>labels|project|statusCategory|status)\s*"
    r'(?:(?P<op>=|!=)\s*"?(?P<value>[^"]*?)"?|(?P<empty>is\s+not\s+EMPTY|is\s+EMPTY))\s*$',
    re.IGNORECASE,
)


def _matches(state: State, issue: Issue, jql: str) -> bool:
    where = re.split(r"\s+ORDER\s+BY\s+", jql, flags=re.IGNORECASE)[0].strip()
    if not where:
        return True
    for clause in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        other = other_clause(issue, clause)
        if other is not None:
            if not other:
                return False
            continue
        m = _CLAUSE.match(clause)
        if m is None:
            raise JiraError(f"Error in the JQL Query: unsupported clause {clause!r}")
        field, value = m["field"].lower(), m["value"]
        if field == "labels":
            if m["empty"]:
                has = bool(issue.labels)
                ok = has if "not" in m["empty"].lower() else not has
            else:
                ok = (value in issue.labels) == (m["op"] == "=")
        elif field == "project":
            ok = (value.upper() == state.store.project_key) == (m["op"] == "=")
        elif field == "status":
            ok = (state.store.status(issue.status_id)[1].lower() == value.lower()) == (
                m["op"] == "="
            )
        else:
            ok = (state.store.status(issue.status_id)[2] == value.lower()) == (m["op"] == "=")
        if not ok:
            return False
    return True


@routes.get(API + "/search/jql")
async def search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    try:
        max_results = min(int(q.get("maxResults") or 50), 5000)
        start = int(q.get("nextPageToken") or 0)
        found = [i for i in state.store.issues.values() if _matches(state, i, q.get("jql", ""))]
    except JiraError as exc:
        return from_exc(exc)
    except ValueError:
        return error(400, ["Invalid nextPageToken or maxResults"])
    page = found[start : start + max_results]
    wanted = _wanted(request) or {"id"}
    r = _renderer(request, state)
    issues = []
    for issue in page:
        rendered = r.issue(issue, wanted)
        if wanted == {"id"}:
            rendered = {"id": issue.id}  # the default answer is ids only
        issues.append(rendered)
    body: JSON = {"issues": issues, "isLast": start + max_results >= len(found)}
    if not body["isLast"]:
        body["nextPageToken"] = str(start + max_results)
    return web.json_response(body)
