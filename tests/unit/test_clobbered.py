"""`syncmodel.echo.clobbered_fields`: which stale values are a person's edit our older write
landed on (and so the winner by last-write-wins), per kind of webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_sync.syncmodel.echo import clobbered_fields
from incident_sync.syncmodel.events import FieldChange

T0 = datetime(2026, 12, 1, tzinfo=UTC)
OURS_AT = {"d": T0}  # our write on the record carried a change made at T0
LATER = T0 + timedelta(seconds=5)


ROW = [("v2", "a"), ("v4", "b")]


def clobbered(
    new: str, version: str, old: str | None = None, row: list[tuple[str, str]] | None = ROW
) -> bool:
    """A snapshot (or, with `old`, a delta) at `version` of field d, after our writes in a row
    (`row`): the first wrote "a" over the person's "p" at v2, the last "b" over our "a" at v4."""
    return "d" in clobbered_fields(
        {"d": FieldChange(old=old, new=new)},
        version,
        {"d": row[-1][0] if row else "v4"},
        LATER,
        OURS_AT,
        {"d": "b"},
        {"d": "a"},
        {"d": "p"},
        {"d": row} if row is not None else None,
        row_kept=3,
    )


def test_a_snapshot_before_our_first_write_shows_the_persons_old_value() -> None:
    assert not clobbered("p", "v1")


def test_a_snapshot_after_our_first_write_showing_the_persons_value_shows_it_set_again() -> None:
    assert clobbered("p", "v3")


def test_without_the_first_writes_version_the_persons_value_is_taken_as_old() -> None:
    assert not clobbered("p", "v3", row=None)


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


def test_a_snapshot_before_our_first_write_cannot_show_a_later_value_of_ours_unedited() -> None:
    """Before our writes in a row, "a" (what our last write replaced: our own, written after
    the snapshot) stands there only because a person set it: an edit."""
    assert clobbered("a", "v1")
    assert not clobbered("a", "v1", row=None)  # no versions: the safe guess


def test_a_snapshot_between_writes_of_a_long_row_shows_the_one_before_it() -> None:
    row = [("v2", "a"), ("v4", "b"), ("v6", "c")]
    assert not clobbered("b", "v5", row=row)
    assert clobbered("a", "v5", row=row)  # ours once, but not at v5: set again
    assert clobbered("c", "v5", row=row)  # ours later only: a person's
    # Older than every write kept of a row that may be longer: any of them, or the person's.
    assert not clobbered("c", "v1", row=row)
    assert not clobbered("p", "v1", row=row)
