"""The Jira stand-in's fields and create metadata, in the shapes of Jira Cloud's REST v3
(the platform OpenAPI: `getFields`, `getCreateIssueMetaIssueTypes`,
`getCreateIssueMetaIssueTypeId`):

- `GET /rest/api/3/field` -> `[FieldDetails]`: `id`, `key`, `name`, `custom`, `orderable`,
  `navigable`, `searchable`, `clauseNames`, `schema` {`type`, `items`, `system` | `custom`,
  `customId`};
- `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes` -> a page of the project's
  issue types (`issueTypes`, `startAt`, `maxResults`, `total`);
- `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}` -> a page of
  `FieldCreateMetadata` (`fields`: `fieldId`, `key`, `name`, `required`, `schema`,
  `operations`, `hasDefaultValue`, `allowedValues`, `autoCompleteUrl`).
Both pages take `startAt` and `maxResults` (50 by default, 200 at most). An unknown project
or issue type is Jira's 404.

The one project's Incident screen has the system fields and two custom fields: a select
(`customfield_10050`, "Severity"), a user picker (`customfield_10060`) and a multi-select
(`customfield_10080`); a fourth custom
field (`customfield_10070`, a number) exists on no screen of the project.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from incident_sync.sandbox.jira.api import from_exc
from incident_sync.sandbox.jira.sitefields import (
    COMPONENTS,
    FIELDS,
    SCREENS,
    SERVICES,
    SEVERITIES,
)
from incident_sync.sandbox.jira.state import STATE, State
from incident_sync.sandbox.jira.store import ISSUE_TYPES, PRIORITIES
from incident_sync.sandbox.jira.values import JiraError
from incident_sync.sandbox.routes import Routes

JSON = dict[str, Any]
API: Final = "/rest/api/3"


def field_details() -> list[JSON]:
    """`GET /field`: every field of the site, as FieldDetails."""
    out = []
    for field in FIELDS:
        name = field["id"] if not field["custom"] else f"cf[{field['schema']['customId']}]"
        out.append(
            {
                **field,
                "orderable": field["id"] not in ("status", "created", "updated"),
                "navigable": True,
                "searchable": True,
                "clauseNames": [name],
            }
        )
    return out


def _allowed(base: str, state: State, fid: str, type_id: str) -> list[JSON] | None:
    store = state.store
    if fid == "project":
        project = {"id": store.project_id, "key": store.project_key, "name": "Operations"}
        return [{"self": f"{base}{API}/project/{store.project_id}", **project}]
    if fid == "issuetype":
        name = dict(ISSUE_TYPES)[type_id]
        return [{"self": f"{base}{API}/issuetype/{type_id}", "id": type_id, "name": name}]
    if fid == "priority":
        return [{"self": f"{base}{API}/priority/{p}", "id": p, "name": n} for p, n in PRIORITIES]
    if fid == "components":
        return [{"self": f"{base}{API}/component/{c}", "id": c, "name": n} for c, n in COMPONENTS]
    options = {"customfield_10050": SEVERITIES, "customfield_10080": SERVICES}.get(fid)
    if options is not None:
        return [
            {"self": f"{base}{API}/customFieldOption/{o}", "value": v, "id": o} for o, v in options
        ]
    return None


def create_meta(base: str, state: State, type_id: str) -> list[JSON]:
    """The create screen of one issue type, as FieldCreateMetadata."""
    by_id = {f["id"]: f for f in FIELDS}
    out = []
    for fid, required in SCREENS[type_id]:
        field = by_id[fid]
        meta: JSON = {
            "fieldId": fid,
            "key": fid,
            "name": field["name"],
            "required": required,
            "schema": field["schema"],
            "operations": ["add", "set", "remove"]
            if field["schema"]["type"] == "array"
            else ["set"],
            "hasDefaultValue": fid in ("priority", "reporter"),
        }
        if (allowed := _allowed(base, state, fid, type_id)) is not None:
            meta["allowedValues"] = allowed
        if fid in ("assignee", "reporter", "customfield_10060"):
            meta["autoCompleteUrl"] = f"{base}{API}/user/search?query="
        if fid == "labels":
            meta["autoCompleteUrl"] = f"{base}/rest/api/1.0/labels/suggest?query="
        if fid == "priority":
            meta["defaultValue"] = {"id": "3", "name": "Medium"}
        out.append(meta)
    return out


routes = Routes().answering(JiraError, from_exc)  # answered in Jira's shape


def _page(request: web.Request) -> tuple[int, int]:
    try:
        start = int(request.query.get("startAt") or 0)
        size = int(request.query.get("maxResults") or 50)
    except ValueError:
        raise JiraError("startAt and maxResults must be numbers") from None
    return max(start, 0), min(max(size, 1), 200)


def _project(request: web.Request) -> State:
    state = request.app[STATE]
    wanted = request.match_info["project"]
    if wanted.upper() != state.store.project_key and wanted != state.store.project_id:
        raise JiraError(f"No project could be found with key '{wanted}'.", status=404)
    return state


@routes.get(API + "/field")
async def get_fields(request: web.Request) -> web.Response:
    return web.json_response(field_details())


@routes.get(API + "/issue/createmeta/{project}/issuetypes")
async def issue_types(request: web.Request) -> web.Response:
    _project(request)
    start, size = _page(request)
    base = f"{request.scheme}://{request.host}"
    types = [
        {
            "self": f"{base}{API}/issuetype/{tid}",
            "id": tid,
            "name": name,
            "description": f"A{'n' if name[0] in 'AEIOU' else ''} {name.lower()}",
            "iconUrl": f"{base}/images/icons/issuetypes/{name.lower()}.png",
            "subtask": False,
        }
        for tid, name in ISSUE_TYPES
    ]
    page = types[start : start + size]
    body = {"issueTypes": page, "startAt": start, "maxResults": size, "total": len(types)}
    return web.json_response(body)


@routes.get(API + "/issue/createmeta/{project}/issuetypes/{type}")
async def issue_type_fields(request: web.Request) -> web.Response:
    state = _project(request)
    type_id = request.match_info["type"]
    if type_id not in SCREENS:
        raise JiraError("The issue type selected is invalid.", status=404)
    start, size = _page(request)
    fields = create_meta(f"{request.scheme}://{request.host}", state, type_id)
    page = fields[start : start + size]
    return web.json_response(
        {"fields": page, "startAt": start, "maxResults": size, "total": len(fields)}
    )
