"""A comment's entity properties (`GET /rest/api/3/comment/{id}/properties[/{key}]`): how a
client reads, for one, Jira Service Management's `sd.public.comment` (internal or public)."""

from __future__ import annotations

from aiohttp import web

from incident_sync.sandbox.jira.api import API, error, from_exc
from incident_sync.sandbox.jira.state import STATE
from incident_sync.sandbox.jira.values import JiraError
from incident_sync.sandbox.routes import Routes

routes = Routes().answering(JiraError, from_exc)  # no such comment: Jira's 404


@routes.get(API + "/comment/{id}/properties")
async def comment_property_keys(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _, comment = state.store.find_comment(request.match_info["id"])
    base = f"{request.scheme}://{request.host}{API}/comment/{comment.id}/properties"
    keys = [{"key": k, "self": f"{base}/{k}"} for k in comment.properties]
    return web.json_response({"keys": keys})


@routes.get(API + "/comment/{id}/properties/{property}")
async def comment_property(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _, comment = state.store.find_comment(request.match_info["id"])
    key = request.match_info["property"]
    if key not in comment.properties:
        return error(404, [f"The property with key '{key}' does not exist."])
    return web.json_response({"key": key, "value": comment.properties[key]})
