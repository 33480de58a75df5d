"""The PagerDuty stand-in's incident custom fields, as PagerDuty's REST OpenAPI documents them:

- `GET /incidents/custom_fields` (`listCustomFieldsFields`: the fields of the Base Incident
  Type; `include[]=field_options` adds each field's options) -> `{"fields": [...]}`;
- `GET /incidents/custom_fields/{field_id}/field_options` (`listCustomFieldsFieldOptions`)
  -> `{"field_options": [...]}`; 404 for a field the account does not have.

A field: `id`, `type: "field"`, `summary`, `self`, `name`, `display_name`, `description`,
`data_type` (boolean, integer, float, string, datetime, url), `field_type` (single_value,
single_value_fixed, multi_value, multi_value_fixed), `default_value`, `created_at`,
`updated_at`; an option: `{"id", "type": "field_option", "data": {"data_type", "value"},
"created_at", "updated_at"}`. Custom fields are generally available: no early-access header
is asked for.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from incident_sync.sandbox.routes import Routes

JSON = dict[str, Any]
STAMP: Final = "2026-01-05T09:00:00Z"

# (id, name, display name, data type, field type, options)
FIELDS: Final[tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...]] = (
    ("PCF0ENV", "environment", "Environment", "string", "single_value_fixed", ("prod", "staging")),
    (
        "PCF0REG",
        "regions",
        "Impacted regions",
        "string",
        "multi_value_fixed",
        ("eu-west-1", "us-east-1", "ap-south-1"),
    ),
    ("PCF0IMP", "customer_impact", "Customer impact", "string", "single_value", ()),
    ("PCF0TAG", "tags", "Tags", "string", "multi_value", ()),
    ("PCF0FAL", "false_alarm", "False alarm", "boolean", "single_value", ()),
    ("PCF0CNT", "customers_affected", "Customers affected", "integer", "single_value", ()),
    ("PCF0RUN", "runbook", "Runbook", "url", "single_value", ()),
)


def _options(field_id: str, data_type: str, values: tuple[str, ...]) -> list[JSON]:
    return [
        {
            "id": f"{field_id}O{index}",
            "type": "field_option",
            "data": {"data_type": data_type, "value": value},
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        for index, value in enumerate(values, 1)
    ]


def _field(
    base: str, spec: tuple[str, str, str, str, str, tuple[str, ...]], with_options: bool
) -> JSON:
    field_id, name, label, data_type, field_type, values = spec
    out: JSON = {
        "id": field_id,
        "type": "field",
        "summary": name,
        "self": f"{base}/incidents/custom_fields/{field_id}",
        "name": name,
        "display_name": label,
        "description": None,
        "data_type": data_type,
        "field_type": field_type,
        "default_value": None,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    if with_options:
        out["field_options"] = _options(field_id, data_type, values)
    return out


def _not_found() -> web.Response:
    return web.json_response({"error": {"message": "Not Found", "code": 2100}}, status=404)


routes = Routes()


@routes.get("/incidents/custom_fields")
async def list_fields(request: web.Request) -> web.Response:
    includes = request.query.getall("include[]", [])
    base = f"{request.scheme}://{request.host}"
    with_options = "field_options" in includes
    return web.json_response({"fields": [_field(base, f, with_options) for f in FIELDS]})


@routes.get("/incidents/custom_fields/{field_id}/field_options")
async def list_field_options(request: web.Request) -> web.Response:
    for field_id, _, _, data_type, _, values in FIELDS:
        if field_id == request.match_info["field_id"]:
            return web.json_response({"field_options": _options(field_id, data_type, values)})
    return _not_found()
