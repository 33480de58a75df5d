"""A mapping file is one way of writing field maps (`syncmodel.mappingfile`): the field maps
made from any file cross every value the file's own engine crosses, the same way."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from incident_sync.syncmodel.fieldmaps import Crossed, from_tool, to_tool
from incident_sync.syncmodel.mapping import (
    PLATFORM_FIELDS,
    Features,
    FieldMapping,
    MappingConfig,
)
from incident_sync.syncmodel.mappingfile import field_maps

NATIVE = st.sampled_from(
    ["short_description", "description", "work_notes", "incident_state", "priority", "u_team"]
)
CODES = st.dictionaries(
    st.sampled_from(["1", "2", "3", "6", "7"]),
    st.sampled_from(["open", "closed", "critical", "minor"]),
    max_size=4,
)
CONFIGS = st.builds(
    MappingConfig,
    features=st.builds(
        Features, reverse_sync=st.booleans(), sync_status=st.booleans(), sync_severity=st.booleans()
    ),
    field_mappings=st.dictionaries(st.sampled_from(sorted(PLATFORM_FIELDS)), NATIVE, max_size=4),
    reverse_field_mappings=st.dictionaries(
        NATIVE, st.sampled_from(sorted(PLATFORM_FIELDS)), max_size=4
    ),
    reverse_mappings=st.fixed_dictionaries({}, optional={"status": CODES, "severity": CODES}),
)
VALUES = st.sampled_from(["1", "2", "3", "6", "7", "open", "closed", "critical", "minor", "x"])


# The default file with its gated fields on: several codes stand for one value there.
GATED_ON = MappingConfig(features=Features(sync_status=True, sync_severity=True))


@settings(max_examples=400)
@given(CONFIGS, NATIVE, VALUES)
@example(GATED_ON, "incident_state", "2")
@example(GATED_ON, "priority", "5")
def test_what_the_tool_sends_is_taken_in_alike(
    config: MappingConfig, field: str, value: str
) -> None:
    expected = FieldMapping(config).to_canonical({field: value})
    inbound = [m for m in field_maps(config) if m.tool == field and m.direction.accepts_inbound]
    crossed = {
        m.platform: c.value for m in inbound if isinstance(c := from_tool(m, value), Crossed)
    }
    assert crossed == expected


@settings(max_examples=400)
@given(CONFIGS, st.sampled_from(sorted(set(PLATFORM_FIELDS.values()))), VALUES)
@example(MappingConfig(field_mappings={"incident.status": "incident_state"}), "status", "closed")
def test_what_the_platform_sends_is_written_alike(
    config: MappingConfig, field: str, value: str
) -> None:
    expected = FieldMapping(config).to_native({field: value})
    outbound = [
        m for m in field_maps(config) if m.platform == field and m.direction.writes_outbound
    ]
    assert len(outbound) <= 1
    for m in outbound:
        c = to_tool(m, value)
        if not isinstance(c, Crossed):  # the file wrote a value its map does not name as it
            assert m.value_map is not None and value not in m.value_map.values  # was
            assert expected == {m.tool: value}
            return
    crossed = {m.tool: c.value for m in outbound if isinstance(c := to_tool(m, value), Crossed)}
    assert crossed == expected


def test_the_default_file_is_three_maps_both_ways_and_its_gated_ones_in_only_when_on() -> None:
    names = [m.name for m in field_maps(MappingConfig())]
    assert names == [
        "title <-> short_description",
        "description <-> description",
        "comment <-> work_notes",
    ]
    on = MappingConfig(features=Features(sync_status=True, sync_severity=True))
    maps = {m.name: m for m in field_maps(on)}
    assert set(maps) >= {"status <- incident_state", "severity <- priority"}
    assert maps["status <- incident_state"].value_map is not None
    assert from_tool(maps["status <- incident_state"], "6") == Crossed("closed")
