"""`/_sandbox`: an agent working in the Jira UI, plus stats, faults and reset (no auth)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from incident_sync.sandbox.base import (
    bad,
    found,
    object_body,
    record_and_body,
    store_control_routes,
)
from incident_sync.sandbox.jira import screenfields, webhooks
from incident_sync.sandbox.jira.adf import doc
from incident_sync.sandbox.jira.render import Renderer
from incident_sync.sandbox.jira.state import STATE, State
from incident_sync.sandbox.jira.store import (
    PRIORITIES,
    PUBLIC_COMMENT_PROPERTY,
    STATUSES,
    Issue,
    account_id,
)
from incident_sync.sandbox.jira.values import JiraError

# stats, faults and reset (`sandbox.base`), then this tool's own UI routes; a store's refusal
# is a UI one, `{"error": ...}` with its status
routes = store_control_routes(
    STATE, ("issues", lambda s: len(s.store.issues)), lambda s: s.faults
).answering(JiraError, lambda exc: bad(str(exc), exc.status))
JSON = dict[str, Any]


def _actor(state: State, body: JSON) -> str:
    return account_id(str(body.pop("user", state.config.human)))


def view(request: web.Request, state: State, issue: Issue) -> JSON:
    """What a person sees: names, e-mail addresses and plain comment texts."""
    r = Renderer(state.store, f"{request.scheme}://{request.host}", 2)
    assignee = state.store.users.get(issue.assignee or "")
    return {
        "id": issue.id,
        "key": issue.key,
        "summary": issue.summary,
        "description": r.fields(issue, {"description"})["description"],
        "status": state.store.status(issue.status_id)[1],
        "status_category": state.store.status(issue.status_id)[2],
        "priority": dict(PRIORITIES)[issue.priority_id],
        "assignee": assignee.email if assignee else None,
        "labels": issue.labels,
        "properties": issue.properties,
        # The screen's other fields as text (an option's value, components' names).
        "screen": {
            name: screenfields.text(name, value, lambda a: state.store.users[a].email)
            for name, value in issue.screen.items()
        },
        "comments": [
            {
                "id": c.id,
                "body": r.comment(issue, c)["body"],
                "author": c.author,
                "internal": c.internal,
            }
            for c in issue.comments
        ],
    }


def _native(state: State, body: JSON) -> JSON | str:
    """UI values (names, e-mail addresses, text) -> REST fields."""
    fields: JSON = {}
    if "summary" in body:
        fields["summary"] = body["summary"]
    if "description" in body:
        fields["description"] = doc(str(body["description"])) if body["description"] else None
    if "priority" in body:
        fields["priority"] = {"name": body["priority"]}
    if "assignee" in body:
        if body["assignee"] is None:
            fields["assignee"] = None
        else:
            user = state.store.user_by_email(str(body["assignee"]))
            if user is None:
                return f"no user {body['assignee']!r}"
            fields["assignee"] = {"accountId": user.account_id}
    if "labels" in body:
        fields["labels"] = body["labels"]
    if isinstance(body.get("fields"), dict):  # other fields, in the REST body's shapes
        fields.update(body["fields"])
    return fields


def _issue(request: web.Request) -> tuple[State, Issue]:
    """The state and the issue the path names, or else a `Refusal` (404, no such issue)."""
    state = request.app[STATE]
    issue = state.store.get(request.match_info["key"])
    return state, found(issue, lambda: bad("no such issue", 404))


async def _issue_and_body(request: web.Request) -> tuple[State, Issue, JSON]:
    """The state, the issue the path names and the body, or else a `Refusal` (404, 400)."""
    state = request.app[STATE]
    issue = state.store.get(request.match_info["key"])
    found_issue, body = await record_and_body(request, issue, "issue")
    return state, found_issue, body


@routes.post("/_sandbox/issues")
async def ui_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await object_body(request, lambda: bad("body must be a JSON object"))
    actor = _actor(state, body)
    fields = _native(state, body)
    if isinstance(fields, str):
        return bad(fields)
    # An issue of the type the body names (`{"fields": {"issuetype": {"name": "Task"}}}`).
    fields["project"] = {"key": state.store.project_key}
    fields.setdefault("issuetype", {"name": "Incident"})
    issue = state.store.create(fields, actor)
    webhooks.issue_event(request, state, "jira:issue_created", issue, actor)
    return web.json_response(view(request, state, issue), status=201)


@routes.get("/_sandbox/issues/{key}")
async def ui_show(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    return web.json_response(view(request, state, issue))


@routes.get("/_sandbox/issues")
async def ui_list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    label = request.query.get("label")
    issues = [i for i in state.store.issues.values() if label is None or label in i.labels]
    return web.json_response({"issues": [view(request, state, i) for i in issues]})


@routes.post("/_sandbox/issues/{key}/edit")
async def ui_edit(request: web.Request) -> web.Response:
    state, issue, body = await _issue_and_body(request)
    actor = _actor(state, body)
    status = body.pop("status", None)
    fields = _native(state, body)
    if isinstance(fields, str):
        return bad(fields)
    items = state.store.edit(issue, fields)
    if status is not None:
        items += _move(state, issue, str(status))
    if items:
        webhooks.issue_event(request, state, "jira:issue_updated", issue, actor, items=items)
    return web.json_response(view(request, state, issue))


def _move(state: State, issue: Issue, status_name: str) -> list[JSON]:
    """Whatever available transition reaches the named status (with a resolution if needed)."""
    target = next((s for s in STATUSES if s[1].lower() == status_name.lower()), None)
    if target is None:
        raise JiraError(f"unknown status {status_name!r}")
    if target[0] == issue.status_id:
        return []
    for tid, _, _, to, needs_resolution in state.store.available_transitions(issue):
        if to == target[0]:
            fields = {"resolution": {"name": "Done"}} if needs_resolution else {}
            return state.store.transition(issue, tid, fields)
    raise JiraError(f"no transition from {state.store.status(issue.status_id)[1]} to {status_name}")


@routes.post("/_sandbox/issues/{key}/comments")
async def ui_comment(request: web.Request) -> web.Response:
    state, issue, body = await _issue_and_body(request)
    actor = _actor(state, body)
    # An agent's internal note (`"internal": true`), or else a public reply.
    internal = [{"key": PUBLIC_COMMENT_PROPERTY, "value": {"internal": True}}]
    comment = state.store.add_comment(
        issue, doc(str(body.get("body", ""))), actor, internal if body.get("internal") else None
    )
    webhooks.comment_added(request, state, issue, comment, actor)
    return web.json_response({"id": comment.id}, status=201)


@routes.put("/_sandbox/issues/{key}/comments/{id}")
async def ui_edit_comment(request: web.Request) -> web.Response:
    state, issue, body = await _issue_and_body(request)
    actor = _actor(state, body)
    text = doc(str(body.get("body", "")))
    comment = state.store.update_comment(issue, request.match_info["id"], text, actor)
    webhooks.comment_event(request, state, "comment_updated", issue, comment)
    return web.json_response({"id": comment.id})


@routes.delete("/_sandbox/issues/{key}/comments/{id}")
async def ui_delete_comment(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    comment = state.store.delete_comment(issue, request.match_info["id"])
    webhooks.comment_event(request, state, "comment_deleted", issue, comment)
    return web.Response(status=204)


@routes.delete("/_sandbox/issues/{key}")
async def ui_delete(request: web.Request) -> web.Response:
    state, issue = _issue(request)
    webhooks.issue_event(
        request, state, "jira:issue_deleted", issue, account_id(state.config.human)
    )
    del state.store.issues[issue.id]
    return web.Response(status=204)
