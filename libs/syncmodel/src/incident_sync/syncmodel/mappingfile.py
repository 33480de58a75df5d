"""A mapping file (`field-mappings.json`, `syncmodel.mapping`) as declared field maps
(`syncmodel.fieldmaps`): the file is one way of writing the same mappings.

Each canonical field the file maps becomes one field map: both ways where it is written to
and taken in from the same native field, else one each way. The file's value maps are read
from the tool (code -> canonical value) and written back as the lowest code that stands for a
value, so they become a value map with that `reverse`. Its feature flags decide which fields
are taken in at all (`reverse_sync`, `sync_status`, `sync_severity`). One difference: a value
the file's map does not name was written to the tool as it was; a field map skips it (and
says so) rather than write a value the tool's field may not take.
"""

from __future__ import annotations

from incident_sync.syncmodel.fieldmaps import FieldMap, ValueMap
from incident_sync.syncmodel.fields import Direction
from incident_sync.syncmodel.mapping import FieldMapping, MappingConfig


def field_maps(config: MappingConfig) -> list[FieldMap]:
    """The field maps that cross values as `FieldMapping(config)` does, one per canonical
    field and native field, in the file's order."""
    mapping = FieldMapping(config)
    written = mapping.forward_fields()
    inbound = mapping.inbound_fields()
    taken: dict[str, list[str]] = {}  # several native fields may be read as one canonical
    for native, canonical in mapping.reverse_fields().items():
        if canonical in inbound:
            taken.setdefault(canonical, []).append(native)
    out: list[FieldMap] = []
    for canonical in dict.fromkeys([*written, *taken]):
        value_map = _value_map(mapping, canonical)
        to_native = written.get(canonical)
        from_natives = taken.get(canonical, [])
        if to_native is not None:
            both = to_native in from_natives
            direction = Direction.BIDIRECTIONAL if both else Direction.OUTBOUND
            out.append(
                FieldMap(
                    platform=canonical, tool=to_native, direction=direction, value_map=value_map
                )
            )
        out += [
            FieldMap(platform=canonical, tool=n, direction=Direction.INBOUND, value_map=value_map)
            for n in from_natives
            if n != to_native
        ]
    return out


def _value_map(mapping: FieldMapping, canonical: str) -> ValueMap | None:
    codes = mapping.value_map(canonical)
    if not codes:
        return None
    return ValueMap(values=mapping.forward_value_map(canonical), reverse=dict(codes))
