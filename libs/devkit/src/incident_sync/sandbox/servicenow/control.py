"""`/_sandbox`: a human working in the ServiceNow UI, plus stats and reset (no auth)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from incident_sync.sandbox.base import JSON, bad, found, object_body, store_control_routes
from incident_sync.sandbox.servicenow import webhooks
from incident_sync.sandbox.servicenow.render import ReadOptions, render
from incident_sync.sandbox.servicenow.schema import TABLES
from incident_sync.sandbox.servicenow.state import STATE, State
from incident_sync.sandbox.servicenow.store import DataPolicyError


def _reset(state: State) -> None:
    state.store.reset()
    state.auth.hits.clear()


# stats, faults and reset (`sandbox.base`), then this tool's own UI routes; a data policy's
# refusal is a 403
routes = store_control_routes(
    STATE, ("incidents", lambda s: len(s.store.rows["incident"])), reset=_reset
).answering(DataPolicyError, lambda exc: bad(str(exc), 403))
INCIDENT = TABLES["incident"]


def _key(request: web.Request) -> tuple[State, str]:
    """The state and the sys_id of the incident the path names, or else a `Refusal` (404)."""
    state, key = request.app[STATE], request.match_info["sys_id"]
    found(state.store.get("incident", key), lambda: bad("No Record found", 404))
    return state, key


def _body(request: web.Request) -> Awaitable[JSON]:
    """The request's JSON object, or else a `Refusal` (400)."""
    return object_body(request, lambda: bad("body must be a JSON object"))


def _view(request: web.Request, state: State, key: str) -> dict[str, Any]:
    """The stored record (DB values, bare references) and its journal.

    Unlike the Table API, the record's journal fields hold their latest entry, as a person
    sees it on the form; the full history is `<field>_entries` in the record and `<field>`
    beside it.
    """
    row = state.store.rows["incident"][key]
    opts = ReadOptions(f"{request.scheme}://{request.host}", exclude_reference_link=True)
    record = render(INCIDENT, row, opts, {})
    journal = state.store.journal(key)
    out: dict[str, Any] = {"result": record}
    for element in ("work_notes", "comments"):
        entries = [e for e in journal if e["element"] == element]
        record[element] = entries[-1]["value"] if entries else ""
        record[f"{element}_entries"] = out[element] = entries
    return out


@routes.post("/_sandbox/table/incident")
async def ui_insert(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    actor = state.actor(str(body.pop("user", state.config.human_user)))
    body.setdefault("caller_id", actor.sys_id)  # the form defaults the caller to oneself
    write = state.store.insert("incident", body, actor)
    webhooks.announce(request, state, write)
    return web.json_response(_view(request, state, write.record["sys_id"]), status=201)


@routes.patch("/_sandbox/table/incident/{sys_id}")
async def ui_update(request: web.Request) -> web.Response:
    state, key = _key(request)
    body = await _body(request)
    actor = state.actor(str(body.pop("user", state.config.human_user)))
    write = state.store.update("incident", key, body, actor)
    webhooks.announce(request, state, write)
    return web.json_response({**_view(request, state, key), "updated_fields": write.updated_fields})


@routes.delete("/_sandbox/table/incident/{sys_id}")
async def ui_delete(request: web.Request) -> web.Response:
    state, key = _key(request)
    write = state.store.delete("incident", key, state.actor(state.config.human_user))
    webhooks.announce(request, state, write)
    return web.Response(status=204)


@routes.get("/_sandbox/table/incident/{sys_id}")
async def ui_show(request: web.Request) -> web.Response:
    state, key = _key(request)
    return web.json_response(_view(request, state, key))


@routes.post("/_sandbox/customizations")
async def customizations(request: web.Request) -> web.Response:
    """An administrator's changes: `{"max_lengths": {"incident.short_description": 80},
    "collapse_spaces": ["short_description"]}` (each given key replaces that setting)."""
    store = request.app[STATE].store
    body = await _body(request)
    lengths, collapse = body.get("max_lengths"), body.get("collapse_spaces")
    if lengths is not None:
        if not isinstance(lengths, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in lengths.items()
        ):
            return bad("max_lengths must map table.column to a positive length")
        store.custom.lengths = dict(lengths)
        store.refresh_dictionary()
    if collapse is not None:
        if not isinstance(collapse, list) or not all(isinstance(c, str) for c in collapse):
            return bad("collapse_spaces must be a list of column names")
        store.custom.collapse_spaces = set(collapse)
    custom = store.custom
    return web.json_response(
        {"max_lengths": custom.lengths, "collapse_spaces": sorted(custom.collapse_spaces)}
    )
