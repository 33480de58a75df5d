"""Linking what exists (`syncmodel.matching`): each rule's matches, ambiguity shown and never
guessed, and for any incidents and records: one pair per item at most, every item accounted
for once, the plan independent of order, and planning again after linking finds nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from incident_sync.syncmodel.fields import Owner
from incident_sync.syncmodel.matching import (
    Ambiguous,
    By,
    Candidate,
    Initial,
    Pair,
    first_winner,
    normalised_title,
    plan_links,
)
from incident_sync.syncmodel.matching import (
    mentions as mentioned,
)

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def inc(n: int, title: str = "", minutes: int = 0, mentions: tuple[str, ...] = ()) -> Candidate:
    return Candidate(
        id=f"01J{n:03d}",
        title=title or f"incident {n}",
        created=T0 + timedelta(minutes=minutes),
        reference=f"INC-{n}",
        mentions=frozenset(mentions),
    )


def rec(
    n: int,
    title: str = "",
    minutes: int = 0,
    correlation: str | None = None,
    mentions: tuple[str, ...] = (),
) -> Candidate:
    return Candidate(
        id=f"sys{n:03d}",
        title=title or f"record {n}",
        created=T0 + timedelta(minutes=minutes),
        reference=f"INC00100{n:02d}",
        correlation=correlation,
        mentions=frozenset(mentions),
    )


def test_by_correlation_the_record_holding_the_incidents_id() -> None:
    plan = plan_links([inc(1), inc(2)], [rec(1, correlation="01J001"), rec(2)], By.CORRELATION)
    assert plan.pairs == (Pair("01J001", "sys001", By.CORRELATION),)
    assert plan.unmatched_incidents == ("01J002",)
    assert plan.unmatched_records == ("sys002",)


def test_by_reference_either_side_naming_the_other() -> None:
    incidents = [inc(1), inc(2, mentions=("INC0010003",))]
    records = [rec(1, mentions=("INC-1",)), rec(3)]
    plan = plan_links(incidents, records, By.REFERENCE)
    assert plan.pairs == (
        Pair("01J001", "sys001", By.REFERENCE),
        Pair("01J002", "sys003", By.REFERENCE),
    )


def test_by_title_the_same_words_within_the_window() -> None:
    incidents = [inc(1, "Checkout: 500s in EU!", 0), inc(2, "Search slow", 0)]
    records = [rec(1, "checkout 500s  in eu", 30), rec(2, "Search slow", 300)]
    plan = plan_links(incidents, records, By.TITLE)
    assert plan.pairs == (Pair("01J001", "sys001", By.TITLE),)  # rec 2 is 5 h later
    assert normalised_title(" Checkout: 500s in EU! ") == "checkout 500s in eu"


def test_two_candidates_are_ambiguous_both_ways_and_nothing_is_guessed() -> None:
    incidents = [inc(1, "DB down"), inc(2, "DB down", 10)]
    records = [rec(1, "DB down", 5)]
    plan = plan_links(incidents, records, By.TITLE)
    assert plan.pairs == ()
    assert plan.ambiguous == (
        Ambiguous("incident", "01J001", ("sys001",)),
        Ambiguous("incident", "01J002", ("sys001",)),
        Ambiguous("record", "sys001", ("01J001", "01J002")),
    )
    assert plan.counts["ambiguous_incidents"] == 2


def test_what_is_linked_is_left_out() -> None:
    plan = plan_links(
        [inc(1)], [rec(1, correlation="01J001")], By.CORRELATION, linked_incidents={"01J001"}
    )
    assert plan.pairs == () and plan.unmatched_records == ("sys001",)
    assert plan.counts["already_linked"] == 1


TITLES = st.sampled_from(["DB down", "db down!", "Search slow", "Checkout 500s", ""])
SIDE = st.lists(
    st.tuples(
        TITLES,
        st.integers(0, 400),
        st.sets(st.integers(0, 5), max_size=2),
        st.one_of(st.none(), st.integers(0, 5)),
    ),
    max_size=8,
)


@given(SIDE, SIDE, st.sampled_from(list(By)), st.randoms(use_true_random=False))
def test_any_plan_is_consistent_order_free_and_a_rerun_links_nothing(
    incident_specs: list[tuple[str, int, set[int], int | None]],
    record_specs: list[tuple[str, int, set[int], int | None]],
    by: By,
    rnd: random.Random,
) -> None:
    incidents = [
        inc(n, t, m, tuple(f"INC00100{x:02d}" for x in mentions))
        for n, (t, m, mentions, _) in enumerate(incident_specs)
    ]
    records = [
        rec(
            n,
            t,
            m,
            correlation=None if c is None else f"01J{c:03d}",
            mentions=tuple(f"INC-{x}" for x in mentions),
        )
        for n, (t, m, mentions, c) in enumerate(record_specs)
    ]
    plan = plan_links(incidents, records, by)
    paired_incidents = [p.incident for p in plan.pairs]
    paired_records = [p.record for p in plan.pairs]
    assert len(set(paired_incidents)) == len(paired_incidents)
    assert len(set(paired_records)) == len(paired_records)
    ambiguous = {a.id for a in plan.ambiguous}
    for item in incidents:  # each in exactly one of: a pair, ambiguous, unmatched
        places = [
            item.id in paired_incidents,
            item.id in ambiguous,
            item.id in plan.unmatched_incidents,
        ]
        assert places.count(True) == 1, (item.id, plan)
    for item in records:
        places = [
            item.id in paired_records,
            item.id in ambiguous,
            item.id in plan.unmatched_records,
        ]
        assert places.count(True) == 1, (item.id, plan)
    shuffled_i, shuffled_r = incidents[:], records[:]
    rnd.shuffle(shuffled_i)
    rnd.shuffle(shuffled_r)
    assert plan_links(shuffled_i, shuffled_r, by) == plan
    again = plan_links(
        incidents,
        records,
        by,
        linked_incidents=set(paired_incidents),
        linked_records=set(paired_records),
    )
    assert again.pairs == ()


def test_the_first_winner_is_the_owner_then_the_operators_choice() -> None:
    early, late = T0, T0 + timedelta(minutes=1)
    assert first_winner(Owner.EXTERNAL, Initial.PLATFORM, late, early) is Owner.EXTERNAL
    assert first_winner(None, Initial.PLATFORM, early, late) is Owner.PLATFORM
    assert first_winner(None, Initial.EXTERNAL, late, early) is Owner.EXTERNAL
    assert first_winner(None, Initial.NEWER, early, late) is Owner.EXTERNAL
    assert first_winner(None, Initial.NEWER, late, early) is Owner.PLATFORM
    assert first_winner(None, Initial.NEWER, early, early) is Owner.PLATFORM


def test_mentions_are_the_words_that_could_name_an_item_and_only_names_match() -> None:
    words = mentioned(["See INC0010001, and OPS-12.", None, "(#42) for INC-7: 01HX9Z", ""])
    assert {"INC0010001", "OPS-12", "#42", "INC-7", "01HX9Z"} <= words
    assert not {"INC0010001,", "OPS-12.", "(#42)", "INC-7:"} & words
    incidents = [inc(1)]
    records = [
        rec(1, mentions=tuple(mentioned(["Raised for INC-1."]))),
        rec(2, mentions=tuple(mentioned(["INC-10 is another"]))),
    ]
    plan = plan_links(incidents, records, By.REFERENCE)
    assert [(p.incident, p.record) for p in plan.pairs] == [("01J001", "sys001")]
