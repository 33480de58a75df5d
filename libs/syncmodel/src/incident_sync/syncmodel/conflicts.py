"""Conflict rules: what happens when two sides change one field of one incident.

Pure. The arbiter keeps, per incident and field, the last change it let through
(`FieldWrite`: side, value, the source's own timestamp) and asks `arbitrate` about each new
one. Changes propagate at once; nothing waits for the window. The window only decides whether
a disagreement is a *conflict* (recorded, counted, and for `manual-review` parked).

- A change older (by its source's clock) than the last one let through from another side
  never overwrites it, whatever the window: it loses, and the winner is re-asserted on the
  side it came from, so every side converges on the winner.
- A change made on top of the standing value (the value it replaced is the one let through
  last) is a later edit and stands: its editor saw the other side's value.
- Within the window, two sides setting different values is a conflict:
  `last-write-wins` keeps the newer (ties: the platform, then the greater side id);
  `ownership-priority` keeps the side with the higher ownership priority for the field
  (equal priorities fall back to last-write-wins);
  `manual-review` parks the field: the new value is not propagated, and nothing is for that
  field until an operator resolves the conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.fields import ConflictStrategy
from incident_sync.syncmodel.fields import Field as F

# The comment stream is appended to, not overwritten: two sides adding notes never conflict.
NOT_ARBITRATED = frozenset({F.COMMENT.value})


@dataclass(frozen=True)
class FieldWrite:
    """One side's value of one field, stamped with that side's own clock."""

    side: str
    value: str | None
    ts: datetime


class Verdict(StrEnum):
    ACCEPT = "accept"  # propagate the new value
    REJECT = "reject"  # the new value loses; re-assert the winner on its side
    PARK = "park"  # manual review: propagate nothing for this field


@dataclass(frozen=True)
class Arbitration:
    verdict: Verdict
    conflict: bool  # two sides disagreed within the window
    winner: FieldWrite | None  # the value the field converges to (None while parked)

    @property
    def reassert(self) -> bool:
        return self.verdict is Verdict.REJECT


Priority = Callable[[str], int]  # side -> its ownership priority for the field at hand


def is_conflict(
    last: FieldWrite | None, new: FieldWrite, window_s: float, based_on: str | None = None
) -> bool:
    """Two sides set different values within the window, neither on top of the other's.

    `based_on`: the value the new change replaced on its record, when known. A person who
    changed the value that had just arrived from the other side saw it: that is a later
    edit, not a simultaneous one.
    """
    if last is None or last.side == new.side:
        return False
    if normalize(last.value) == normalize(new.value):
        return False
    if based_on is not None and normalize(based_on) == normalize(last.value):
        return False
    return abs((new.ts - last.ts).total_seconds()) <= window_s


def arbitrate(
    last: FieldWrite | None,
    new: FieldWrite,
    *,
    strategy: ConflictStrategy,
    window_s: float,
    priority: Priority,
    parked: bool = False,
    platform: str | None = None,
    based_on: str | None = None,
) -> Arbitration:
    if parked:
        return Arbitration(Verdict.PARK, conflict=False, winner=None)
    if (
        last is not None
        and based_on is not None
        and normalize(based_on) == normalize(last.value)
        and normalize(based_on) != normalize(new.value)
    ):
        # Made on top of the standing value: a later edit, whatever the clocks say.
        return Arbitration(Verdict.ACCEPT, conflict=False, winner=new)
    conflict = is_conflict(last, new, window_s, based_on)
    if conflict and strategy is ConflictStrategy.MANUAL_REVIEW:
        return Arbitration(Verdict.PARK, conflict=True, winner=None)
    if last is None or last.side == new.side or normalize(last.value) == normalize(new.value):
        # One side's own sequence: its tool already orders it (the gate drops stale
        # snapshots by version), so the newest observation stands.
        return Arbitration(Verdict.ACCEPT, conflict=False, winner=new)
    if conflict and strategy is ConflictStrategy.OWNERSHIP_PRIORITY:
        mine, theirs = priority(new.side), priority(last.side)
        if mine != theirs:
            winner = new if mine > theirs else last
            verdict = Verdict.ACCEPT if winner is new else Verdict.REJECT
            return Arbitration(verdict, conflict=True, winner=winner)
    if _order(new, platform) < _order(last, platform):
        return Arbitration(Verdict.REJECT, conflict=conflict, winner=last)
    return Arbitration(Verdict.ACCEPT, conflict=conflict, winner=new)


def _order(write: FieldWrite, platform: str | None) -> tuple[datetime, bool, str]:
    """Last-write-wins order: the source time; on a tie the platform, then the greater id,
    so every processing order picks the same winner."""
    return (write.ts, write.side == platform, write.side)
