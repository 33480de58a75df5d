"""The PagerDuty stand-in's incident custom field values, as PagerDuty's REST OpenAPI
documents them:

- `GET /incidents/{id}/custom_fields/values` (`getIncidentFieldValues`) -> 200
  `{"custom_fields": [CustomFieldsFieldValue]}`: every field of the account with its value
  (`null` where none is set);
- `PUT /incidents/{id}/custom_fields/values` (`setIncidentFieldValues`), a body
  `{"custom_fields": [{"name" | "id": ..., "value": ...}]}` -> 201 with the same list. A value
  is of the field's kind: a string (at most 200 characters), a URL, a date-time string, a
  number, a boolean, one of its options (`single_value_fixed`), a list of at most 10 distinct
  strings (`multi_value`) or of its options (`multi_value_fixed`); `null` clears it. Anything
  else, or a field the account lacks, is PagerDuty's 400 and nothing is set.
A change sends `incident.custom_field_values.updated` (data `incident_field_values`: the
incident's reference, every field's value, and the changed ones) and leaves a log entry.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from incident_sync.sandbox.pagerduty import render, webhooks
from incident_sync.sandbox.pagerduty.api import ACTOR_KEY, _incident, from_exc
from incident_sync.sandbox.pagerduty.customfields import FIELDS
from incident_sync.sandbox.pagerduty.state import STATE
from incident_sync.sandbox.pagerduty.store import Incident, PagerDutyStore, PdError
from incident_sync.sandbox.routes import Routes

JSON = dict[str, Any]
EVENT: Final = "incident.custom_field_values.updated"
LOG_TYPE: Final = "update_log_entry"
VALUE_MAX: Final = 200
ITEMS_MAX: Final = 10
Spec = tuple[str, str, str, str, str, tuple[str, ...]]


def _refused(problem: str) -> PdError:
    return PdError("Invalid Input Provided", [problem])


def _check(spec: Spec, value: object) -> object:
    """`value` as stored, or PdError."""
    _, name, _, data_type, field_type, options = spec
    if value is None:
        return None
    if field_type.startswith("multi_value"):
        items = value if isinstance(value, list) else None
        if items is None or len(items) > ITEMS_MAX or len(set(map(str, items))) != len(items):
            raise _refused(f"{name}: expected a list of at most {ITEMS_MAX} distinct values")
        return [_one(name, data_type, field_type, options, item) for item in items]
    return _one(name, data_type, field_type, options, value)


def _one(
    name: str, data_type: str, field_type: str, options: tuple[str, ...], value: object
) -> object:
    if data_type == "boolean":
        ok = isinstance(value, bool)
    elif data_type == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif data_type == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str) and len(value) <= VALUE_MAX
    if not ok:
        raise _refused(f"{name}: {value!r} is not a {data_type} value")
    if field_type.endswith("_fixed") and value not in options:
        raise _refused(f"{name}: {value!r} is not one of the field's options")
    return value


def field_value(spec: Spec, value: object) -> JSON:
    field_id, name, label, data_type, field_type, _ = spec
    return {
        "id": field_id,
        "type": "field_value",
        "name": name,
        "display_name": label,
        "description": None,
        "data_type": data_type,
        "field_type": field_type,
        "namespace": "incidents",
        "value": value,
    }


def values(incident: Incident) -> list[JSON]:
    return [field_value(spec, incident.custom.get(spec[0])) for spec in FIELDS]


def set_values(store: PagerDutyStore, incident: Incident, items: object, actor: str) -> list[JSON]:
    """Set the body's values (all or none); the changed ones, as field values."""
    if not isinstance(items, list) or not items:
        raise _refused("custom_fields is required")
    staged: dict[str, object] = {}
    for item in items:
        if not isinstance(item, dict) or "value" not in item:
            raise _refused("a custom field value is {name | id, value}")
        spec = next((f for f in FIELDS if item.get("id") == f[0] or item.get("name") == f[1]), None)
        if spec is None:
            raise _refused(f"Field {item.get('name', item.get('id'))!r} not found")
        staged[spec[0]] = _check(spec, item["value"])
    changed = []
    for spec in FIELDS:
        if spec[0] in staged and staged[spec[0]] != incident.custom.get(spec[0]):
            incident.custom[spec[0]] = staged[spec[0]]
            changed.append(field_value(spec, staged[spec[0]]))
    if changed:
        store.logged(incident, LOG_TYPE, actor)
    return changed


def event_data(incident: Incident, changed: list[JSON]) -> JSON:
    return {
        "incident": render.ref("incident", "incidents", incident.id, incident.title),
        "custom_fields": values(incident),
        "changed_custom_fields": changed,
        "type": "incident_field_values",
    }


routes = Routes().answering(PdError, from_exc)  # answered in PagerDuty's shape


@routes.get("/incidents/{id}/custom_fields/values")
async def get_values(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    return web.json_response({"custom_fields": values(incident)})


@routes.put("/incidents/{id}/custom_fields/values")
async def put_values(request: web.Request) -> web.Response:
    state = request.app[STATE]
    incident = _incident(request, state)
    try:
        body = await request.json()
    except ValueError:
        raise _refused("The request body is not valid JSON") from None
    items = body.get("custom_fields") if isinstance(body, dict) else None
    changed = set_values(state.store, incident, items, request[ACTOR_KEY])
    state.store.record_api_write(incident.id, "custom_fields")
    if changed:
        webhooks.send(request, state, EVENT, event_data(incident, changed), request[ACTOR_KEY])
    return web.json_response({"custom_fields": values(incident)}, status=201)
