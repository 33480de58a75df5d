"""The Datadog stand-in's incident user-defined fields: `GET
/api/v2/incidents/config/user-defined-fields`, as Datadog's API reference documents it (a
preview endpoint): `page[size]` (0..1000), `page[number]` (from 0), `include-deleted`,
`filter[incident-type]`; the answer `{"data": [{"id", "type": "user_defined_field",
"attributes": {...}}], "meta": {"page_offset", "total"}}`, `total` being the number of items
on the page. An attribute's `type` is a number: 1 dropdown, 2 multiselect, 3 textbox,
4 textarray, 5 metrictag, 6 autocomplete, 7 number, 8 datetime.

The fields are the ones every incident of the stand-in carries (`app.DEFAULT_FIELDS`: the
reserved ones and the two textbox fields docs/datadog-setup.md asks for), a custom dropdown
and a number, and one soft-deleted field (listed only with `include-deleted=true`).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from aiohttp import web

from incident_sync.sandbox.routes import Routes

JSON = dict[str, Any]
PATH: Final = "/api/v2/incidents/config/user-defined-fields"
INCIDENT_TYPE: Final = "00000000-0000-4000-8000-000000000001"  # the default incident type
CREATED: Final = "2026-01-05T09:00:00.000000+00:00"
DELETED: Final = "2026-02-01T09:00:00.000000+00:00"


def _values(*pairs: tuple[str, str]) -> list[JSON]:
    return [{"value": v, "display_name": d, "description": ""} for v, d in pairs]


# (name, display name, type, required, reserved, valid values, deleted)
_DEFINITIONS: Final[tuple[tuple[str, str, int, bool, bool, list[JSON] | None, bool], ...]] = (
    (
        "severity",
        "Severity",
        1,
        False,
        True,
        _values(*((s, s) for s in ("UNKNOWN", "SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5"))),
        False,
    ),
    (
        "state",
        "State",
        1,
        False,
        True,
        _values(("active", "Active"), ("stable", "Stable"), ("resolved", "Resolved")),
        False,
    ),
    (
        "detection_method",
        "How was this detected?",
        1,
        False,
        True,
        _values(
            ("customer", "Customer"),
            ("employee", "Employee"),
            ("monitor", "Monitor"),
            ("other", "Other"),
            ("unknown", "Unknown"),
        ),
        False,
    ),
    ("root_cause", "Root Cause", 3, False, True, None, False),
    ("summary", "Summary", 3, False, True, None, False),
    ("services", "Services", 6, False, True, None, False),
    ("teams", "Teams", 6, False, True, None, False),
    ("slug", "Slug", 3, False, True, None, False),  # every recorded incident carries it
    ("incident_sync_id", "incident-sync id", 3, False, False, None, False),
    ("incident_sync_ref", "incident-sync ref", 3, False, False, None, False),
    (
        "environment",
        "Environment",
        1,
        True,
        False,
        _values(("prod", "Production"), ("staging", "Staging")),
        False,
    ),
    ("customers_affected", "Customers affected", 7, False, False, None, False),
    ("old_region", "Region (retired)", 2, False, False, _values(("eu", "EU")), True),
)


def definitions() -> list[JSON]:
    """Every field, as the list endpoint renders one (deleted ones included)."""
    out = []
    for index, (name, label, kind, required, reserved, values, deleted) in enumerate(_DEFINITIONS):
        out.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"datadog-sandbox-field:{name}")),
                "type": "user_defined_field",
                "attributes": {
                    "attached_to": "incidents",
                    "category": None,
                    "collected": None,
                    "created": CREATED,
                    "default_value": None,
                    "deleted": DELETED if deleted else None,
                    "display_name": label,
                    "metadata": None,
                    "modified": CREATED,
                    "name": name,
                    "ordinal": f"{index + 1}.0",
                    "required": required,
                    "reserved": reserved,
                    "tag_key": None,
                    "type": kind,
                    "valid_values": values,
                },
                "relationships": {
                    "incident_type": {"data": {"id": INCIDENT_TYPE, "type": "incident_types"}}
                },
            }
        )
    return out


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [message]}, status=status)


routes = Routes()


@routes.get(PATH)
async def list_fields(request: web.Request) -> web.Response:
    q = request.query
    try:
        size = int(q.get("page[size]", "1000"))
        number = int(q.get("page[number]", "0"))
    except ValueError:
        return _error(400, "page[size] and page[number] must be integers")
    if not 0 <= size <= 1000 or number < 0:
        return _error(400, "page[size] must be between 0 and 1000, page[number] at least 0")
    found = definitions()
    if q.get("include-deleted") != "true":
        found = [f for f in found if f["attributes"]["deleted"] is None]
    if (kind := q.get("filter[incident-type]")) is not None and kind != INCIDENT_TYPE:
        found = []
    page = found[number * size : (number + 1) * size]
    return web.json_response(
        {"data": page, "meta": {"page_offset": number * size, "total": len(page)}}
    )
