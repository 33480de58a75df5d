"""The field-mapping engine against the seed's rules."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from incident_sync.runtime.configfiles import load_mapping
from incident_sync.syncmodel.mapping import FieldMapping, MappingError

REPO = Path(__file__).resolve().parents[2]


def mapping_with(tmp_path: Path, content: dict[str, object]) -> FieldMapping:
    path = tmp_path / "m.json"
    path.write_bytes(orjson.dumps(content))
    return load_mapping(path)


def test_forward_maps_name_summary_and_update_message() -> None:
    m = load_mapping(REPO / "config" / "field-mappings.json")
    native = m.to_native({"title": "DB down", "description": "details", "comment": "update 1"})
    assert native == {
        "short_description": "DB down",
        "description": "details",
        "work_notes": "update 1",
    }
    assert m.outbound_fields() == {"title", "description", "comment"}


def test_forward_leaves_out_unmapped_fields() -> None:
    m = load_mapping(None)
    assert m.to_native({"severity": "critical", "status": "closed"}) == {}


def test_reverse_maps_text_fields_and_work_notes() -> None:
    m = load_mapping(None)
    assert m.to_canonical({"short_description": "t", "description": "d", "work_notes": "n"}) == {
        "title": "t",
        "description": "d",
        "comment": "n",
    }


def test_status_only_with_sync_status(tmp_path: Path) -> None:
    off = load_mapping(None)
    assert off.to_canonical({"incident_state": "6"}) == {}
    assert "status" not in off.inbound_fields()
    on = mapping_with(tmp_path, {"features": {"sync_status": True}})
    assert on.to_canonical({"incident_state": "6"}) == {"status": "closed"}
    assert on.to_canonical({"incident_state": "2"}) == {"status": "open"}


def test_severity_only_with_sync_severity(tmp_path: Path) -> None:
    assert load_mapping(None).to_canonical({"priority": "1"}) == {}
    on = mapping_with(tmp_path, {"features": {"sync_severity": True}})
    assert [on.to_canonical({"priority": p})["severity"] for p in "12345"] == [
        "critical",
        "major",
        "minor",
        "minor",
        "minor",
    ]


def test_reverse_sync_off_takes_nothing_in(tmp_path: Path) -> None:
    m = mapping_with(tmp_path, {"features": {"reverse_sync": False, "sync_status": True}})
    assert m.to_canonical({"short_description": "x", "incident_state": "6"}) == {}
    assert m.inbound_fields() == frozenset()


def test_file_overrides_one_value_and_keeps_the_other_defaults(tmp_path: Path) -> None:
    m = mapping_with(
        tmp_path,
        {"features": {"sync_status": True}, "reverse_mappings": {"status": {"3": "closed"}}},
    )
    assert m.to_canonical({"incident_state": "3"}) == {"status": "closed"}
    assert m.to_canonical({"incident_state": "1"}) == {"status": "open"}
    assert m.to_canonical({"incident_state": "8"}) == {"status": "closed"}


def test_unknown_code_is_not_guessed(tmp_path: Path) -> None:
    m = mapping_with(tmp_path, {"features": {"sync_status": True}})
    assert m.to_canonical({"incident_state": "42"}) == {}


def test_forward_value_is_the_lowest_code_of_the_reverse_map(tmp_path: Path) -> None:
    m = mapping_with(tmp_path, {"field_mappings": {"incident.status": "state"}})
    assert m.to_native({"status": "closed"}) == {"state": "6"}
    assert m.to_native({"status": "open"}) == {"state": "1"}


def test_unknown_platform_field_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"field_mappings\.incident\.nope: Input should be"):
        mapping_with(tmp_path, {"field_mappings": {"incident.nope": "x"}})
    with pytest.raises(MappingError, match=r"reverse_field_mappings\.x: Input should be"):
        mapping_with(tmp_path, {"reverse_field_mappings": {"x": "incident.nope"}})


def test_canonical_of_respects_features(tmp_path: Path) -> None:
    m = load_mapping(None)
    assert m.canonical_of("short_description") == "title"
    assert m.canonical_of("incident_state") is None
    assert m.native_inbound_fields() == {"short_description", "description", "work_notes"}


@given(
    st.dictionaries(
        st.sampled_from(["title", "description", "comment"]), st.text(max_size=20), max_size=3
    )
)
def test_forward_then_reverse_is_identity_for_text_fields(fields: dict[str, str]) -> None:
    m = load_mapping(None)
    assert m.to_canonical(m.to_native(fields)) == fields
