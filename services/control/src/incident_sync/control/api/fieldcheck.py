"""Field maps are checked when they are written: against the fields the tool and the platform
list now (`syncmodel.fieldmaps.check`), so a map to a field the tool lacks, of a kind it
cannot take or to values it does not allow is refused (422, every problem named) before any
change would carry it.

Both sides are asked through their connectors (`control.api.catalogue`): a tool that cannot be
asked refuses the write (409 / 502 with the reason) rather than store maps nobody checked.
Only a write that gives `field_maps` is checked: other changes to an integration with maps
do not wait for its tool. `POST .../field-maps/check` answers the same check for maps not
stored (`im integration field-maps set --dry-run`, `im integration field-maps check`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from incident_sync.control.api.catalogue import ask_fields
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.models import FieldMapsChecked
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide
from incident_sync.syncmodel.fieldmaps import FieldMap, check


async def problems_of(call: Call, side: StoredSide, maps: Sequence[FieldMap]) -> list[str]:
    """Every problem of `maps` on `side` against both sides' fields as they list them now;
    409 without a platform to check them against (and the 409 / 502 of asking a side)."""
    if not maps:
        return []
    platform = await call.services.store.platform(call.tenant)
    if platform is None:
        raise ApiError(
            409,
            "conflict",
            f"field_maps are checked against the platform's fields: tenant {call.tenant} has "
            "no platform connection yet",
        )
    return check(maps, await ask_fields(call, side), await ask_fields(call, platform))


async def check_field_maps(call: Call, side: StoredSide) -> None:
    """Nothing when `side`'s field maps hold against both sides' fields; 422 naming each
    problem otherwise."""
    maps = tuple(FieldMap.model_validate(m) for m in side.config.get("field_maps") or ())
    if problems := await problems_of(call, side, maps):
        raise ApiError(422, "invalid", "field_maps: " + "; ".join(problems))


async def check_maps(call: Call) -> web.StreamResponse:
    """`POST .../field-maps/check`: the problems of the maps given (not stored), as a write
    of them would meet them: 200 with the list, empty when they hold."""
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    maps = tuple(call.body.field_maps)
    answer = FieldMapsChecked(
        integration=call.name, valid=False, problems=await problems_of(call, stored, maps)
    )
    answer.valid = not answer.problems
    return json_response(answer.model_dump(mode="json"))
