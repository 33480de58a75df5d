"""`syncmodel.echo.clobbered_fields`: which stale values are a person's edit our older write
landed on (and so the winner by last-write-wins), per kind of webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_sync.syncmodel.echo import clobbered_fields
from incident_sync.syncmodel.events import FieldChange

T0 = datetime(2026, 12, 1, tzinfo=UTC)
OURS_AT = {"d": T0}  # our write on the record carried a change made at T0
LATER = T0 + timedelta(seconds=5)


def clobbered(new: str, version: str, old: str | None = None, first: str | None = "v2") -> bool:
    """A snapshot (or, with `old`, a delta) at `version` of field d, after our writes in a row:
    the first (version `first`) replaced the person's "p"; the last replaced our "a" with "b"
    at v4."""
    return "d" in clobbered_fields(
        {"d": FieldChange(old=old, new=new)},
        version,
        {"d": "v4"},
        LATER,
        OURS_AT,
        {"d": "b"},
        {"d": "a"},
        {"d": "p"},
        {"d": first} if first is not None else None,
    )


def test_a_snapshot_before_our_first_write_shows_the_persons_old_value() -> None:
    assert not clobbered("p", "v1")


def test_a_snapshot_after_our_first_write_showing_the_persons_value_shows_it_set_again() -> None:
    assert clobbered("p", "v3")


def test_without_the_first_writes_version_the_persons_value_is_taken_as_old() -> None:
    assert not clobbered("p", "v3", first=None)


def test_a_snapshot_showing_a_value_of_ours_is_no_edit() -> None:
    assert not clobbered("a", "v3")
    assert not clobbered("b", "v3")


def test_any_other_value_in_a_stale_snapshot_is_an_edit_our_write_landed_on() -> None:
    assert clobbered("x", "v3")
    assert clobbered("x", "v1")


def test_a_delta_is_an_edit_when_it_changes_the_value() -> None:
    assert clobbered("p", "v1", old="a")
    assert not clobbered("p ", "v1", old="p")


def test_a_newer_version_is_not_stale_and_so_not_clobbered() -> None:
    assert not clobbered("x", "v5")
