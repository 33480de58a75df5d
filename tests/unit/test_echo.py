"""Normalization, fingerprints and the no-op rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from incident_sync.syncmodel.echo import fingerprint, is_stale, normalize, real_changes
from incident_sync.syncmodel.events import FieldChange


def test_tools_rewriting_whitespace_do_not_make_a_change() -> None:
    assert normalize("line one  \r\nline two\n") == normalize("line one\nline two")
    assert fingerprint("title", " DB down ") == fingerprint("title", "DB down")


def test_fingerprint_depends_on_field_and_value() -> None:
    assert fingerprint("title", "x") != fingerprint("description", "x")
    assert fingerprint("title", "x") != fingerprint("title", "y")


def test_no_op_is_dropped_and_old_is_filled_from_known() -> None:
    changes = {"title": FieldChange(new="A"), "description": FieldChange(new="new")}
    out = real_changes(changes, {"title": "A", "description": "old"})
    assert out == {"description": FieldChange(old="old", new="new")}


def test_unknown_field_is_a_real_change() -> None:
    assert real_changes({"title": FieldChange(new="")}, {}) == {"title": FieldChange(new="")}


def test_stale_versions() -> None:
    assert is_stale("0000000002", "0000000003")
    assert not is_stale("0000000003", "0000000003")
    assert not is_stale(None, "1") and not is_stale("1", None)


@given(
    st.dictionaries(
        st.sampled_from(["title", "description", "comment"]), st.text(max_size=10), max_size=3
    ),
    st.dictionaries(
        st.sampled_from(["title", "description", "comment"]), st.text(max_size=10), max_size=3
    ),
)
def test_applying_real_changes_reaches_the_new_state(
    known: dict[str, str], new: dict[str, str]
) -> None:
    changes = {k: FieldChange(new=v) for k, v in new.items()}
    applied = {**known, **{k: c.new for k, c in real_changes(changes, known).items()}}
    for field, value in new.items():
        assert normalize(applied[field]) == normalize(value)
    # and applying the same snapshot again changes nothing
    assert real_changes(changes, applied) == {}
