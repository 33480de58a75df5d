"""Heals that did not take (syncmodel.healing): found again on the same values after a heal,
a discrepancy is unhealable (reported with its reason, counted once, not sent again) until
one side's value changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_sync.syncmodel.drift import Discrepancy, DriftType, Heal
from incident_sync.syncmodel.healing import Attempt, attempt_key, judge

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def mismatch(p: str | None, e: str | None, heal: Heal = Heal.PUSH_PLATFORM) -> Discrepancy:
    return Discrepancy(
        type=DriftType.MISMATCH,
        platform_incident_id="P1",
        external_id="R1",
        field="priority",
        platform_value=p,
        external_value=e,
        heal=heal,
    )


def test_a_heal_found_again_on_the_same_values_is_unhealable_once() -> None:
    first = judge([mismatch(None, "P3")], {}, run_id="rec-1", now=T0, healing=True)
    assert [d.heal for d in first.discrepancies] == [Heal.PUSH_PLATFORM]
    assert first.newly_unhealable == [] and set(first.attempts) == {"R1\x00priority"}

    later = T0 + timedelta(minutes=5)
    second = judge([mismatch(None, "P3")], first.attempts, run_id="rec-2", now=later, healing=True)
    (d,) = second.discrepancies
    assert d.heal is Heal.UNHEALABLE and d.reason is not None and "rec-1" in d.reason
    assert second.newly_unhealable == [d]  # counted by this run
    third = judge([mismatch(None, "P3")], second.attempts, run_id="rec-3", now=later, healing=True)
    assert third.discrepancies[0].heal is Heal.UNHEALABLE
    assert third.newly_unhealable == []  # reported once, not counted again


def test_a_changed_value_is_healable_again_and_a_gone_one_forgotten() -> None:
    tried = {
        attempt_key(mismatch(None, "P3")): Attempt(
            platform_value=None, external_value="P3", heal=Heal.PUSH_PLATFORM, run_id="r", at=T0
        )
    }
    changed = judge([mismatch("P1", "P3")], tried, run_id="rec-2", now=T0, healing=True)
    assert changed.discrepancies[0].heal is Heal.PUSH_PLATFORM
    assert changed.attempts["R1\x00priority"].platform_value == "P1"
    gone = judge([], tried, run_id="rec-3", now=T0, healing=True)
    assert gone.forget == ["R1\x00priority"] and gone.attempts == {}
    # A dry run reports what is unhealable but keeps the attempts as they are.
    dry = judge([mismatch(None, "P3")], tried, run_id="rec-4", now=T0, healing=False)
    assert dry.discrepancies[0].heal is Heal.UNHEALABLE
    assert dry.attempts == {} and dry.forget == [] and dry.newly_unhealable == []


def test_reports_and_missing_records_are_not_judged() -> None:
    parked = mismatch(None, "P3", heal=Heal.NONE)
    gone = Discrepancy(type=DriftType.MISSING_EXTERNAL, platform_incident_id="P1",
                       external_id="R1", heal=Heal.UNLINK)  # fmt: skip
    result = judge([parked, gone], {}, run_id="rec-1", now=T0, healing=True)
    assert result.discrepancies == [parked, gone] and result.attempts == {}
