"""Field maps are checked when they are written: against the fields the tool and the platform
list now (`syncmodel.fieldmaps.check`), so a map to a field the tool lacks, of a kind it
cannot take or to values it does not allow is refused (422, every problem named) before any
change would carry it.

Both sides are asked through their connectors (`control.api.catalogue`): a tool that cannot be
asked refuses the write (409 / 502 with the reason) rather than store maps nobody checked.
Only a write that gives `field_maps` is checked: other changes to an integration with maps
do not wait for its tool.
"""

from __future__ import annotations

from collections.abc import Sequence

from incident_sync.control.api.catalogue import ask_fields
from incident_sync.control.api.errors import ApiError
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide
from incident_sync.syncmodel.fieldmaps import FieldMap, check


async def check_field_maps(call: Call, side: StoredSide) -> None:
    """Nothing when `side`'s field maps hold against both sides' fields; 422 naming each
    problem otherwise, 409 without a platform to check them against."""
    maps: Sequence[FieldMap] = tuple(
        FieldMap.model_validate(m) for m in side.config.get("field_maps") or ()
    )
    if not maps:
        return
    platform = await call.services.store.platform(call.tenant)
    if platform is None:
        raise ApiError(
            409,
            "conflict",
            f"field_maps are checked against the platform's fields: tenant {call.tenant} has "
            "no platform connection yet",
        )
    problems = check(maps, await ask_fields(call, side), await ask_fields(call, platform))
    if problems:
        raise ApiError(422, "invalid", "field_maps: " + "; ".join(problems))
