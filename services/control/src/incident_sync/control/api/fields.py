"""The fields a tool offers, read from the tool itself through its connector
(`connectors.capabilities.FieldCatalogue`): an integration's (`GET .../integrations/{name}/
fields`) and the platform's (`GET .../platform/fields`). How a side is asked, and its 409 and
502 answers: `control.api.catalogue`.
"""

from __future__ import annotations

from aiohttp import web

from incident_sync.control.api.catalogue import ask_fields
from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.integrations import existing
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide
from incident_sync.syncmodel.discovered import FieldList, ToolField


def _answer(stored: StoredSide, fields: list[ToolField]) -> web.StreamResponse:
    listed = FieldList(name=stored.name, type=str(stored.config.get("type")), fields=fields)
    return json_response(listed.model_dump(mode="json"))


async def integration_fields(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    return _answer(stored, await ask_fields(call, stored))


async def platform_fields(call: Call) -> web.StreamResponse:
    stored = await call.services.store.platform(call.tenant)
    if stored is None:
        raise not_found(f"a platform connection for tenant {call.tenant}")
    return _answer(stored, await ask_fields(call, stored))
