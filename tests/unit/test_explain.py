"""Why a field holds its value on each side (`syncmodel.explain`): the timeline's entries of
one field read into one sentence per side."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from incident_sync.syncmodel.explain import NO_DECISION, Detail, Reason, Step, explain, when

P, T = "platform", "tool-a"  # the platform's side and a tool's, as the timeline names them
DAY = date(2026, 12, 2)
START = datetime(2026, 12, 2, 14, 2, 0, tzinfo=UTC)


class Timeline:
    """Steps as the pipeline writes them, one second apart."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(
        self,
        kind: str,
        sides: tuple[str, ...],
        fields: tuple[str, ...] = ("title",),
        rule: str | None = None,
        trace: str | None = None,
        **detail: Detail,
    ) -> Step:
        n = len(self.steps)
        step = Step(
            f"{1000 + n}-0", START + timedelta(seconds=n), kind, sides, fields, rule, trace, detail
        )
        self.steps.append(step)
        return step

    def explain(
        self,
        field: str = "title",
        sides: tuple[str, ...] = (P, T),
        directions: Mapping[str, str] | None = None,
    ) -> dict[str, Reason]:
        answer = explain(field, self.steps, sides, directions=directions, today=DAY)
        return {r.side: r for r in answer}


def created_and_written(tl: Timeline) -> tuple[Step, Step]:
    """The platform's incident made, its ticket created on the tool."""
    made = tl.add("received", (P,), ("title", "severity"), trace="t1", delivery="d-1",
                  event="created", origin="user")  # fmt: skip
    tl.add("planned", (T,), ("title", "severity"), trace="t1", source=P)
    created = tl.add("created", (T,), ("title", "severity"), trace="t1", source=P,
                     record="sys-1", status=201)  # fmt: skip
    return made, created


def test_no_entry_is_no_decision_within_the_retention() -> None:
    answer = Timeline().explain()
    assert [r.sentence for r in answer.values()] == [NO_DECISION, NO_DECISION]
    assert answer[P].entries == () and answer[P].at is None
    assert "retention" in NO_DECISION


def test_our_write_names_the_source_edit_its_delivery_record_and_status() -> None:
    tl = Timeline()
    made, created = created_and_written(tl)
    answer = tl.explain()
    assert answer[P].sentence == (
        f"Set when the incident was made on {P} at 14:02:00 UTC (delivery d-1)."
    )
    assert answer[P].entries == (made.id,) and answer[P].at == made.at
    assert answer[T].sentence == (
        f"Created by us at 14:02:02 UTC from {P}'s edit (delivery d-1, record sys-1, HTTP 201)."
    )
    assert answer[T].entries == (created.id,)


def test_an_echo_of_our_write_is_said_after_the_write() -> None:
    tl = Timeline()
    created_and_written(tl)
    tl.add("received", (P,), trace="t2", delivery="d-2", origin="user")
    tl.add("planned", (T,), trace="t2", source=P)
    written = tl.add("written", (T,), trace="t2", source=P, record="sys-1", status=200)
    echo = tl.add("dropped", (T,), rule="echo_actor", trace="t3", delivery="d-3")
    sentence = tl.explain()[T].sentence
    assert sentence == (
        f"Written by us at 14:02:05 UTC from {P}'s edit (delivery d-2, record sys-1, HTTP 200); "
        "an echo of our own write at 14:02:06 UTC was dropped (echo_actor)."
    )
    assert tl.explain()[T].entries == (written.id, echo.id)
    assert tl.explain()[P].sentence.startswith(f"Edited on {P} at 14:02:03 UTC (delivery d-2)")


def test_the_other_drops_say_what_was_dropped() -> None:
    tl = Timeline()
    tl.add("dropped", (T,), rule="echo_or_noop")
    tl.add("dropped", (T,), rule="duplicate")
    tl.add("dropped", (T,), rule="stale")
    tl.add("dropped", (T,), rule="record_not_found")
    sentence = tl.explain()[T].sentence
    assert "only repeated what we hold (an echo of our write) was dropped" in sentence
    assert "a duplicate delivery at 14:02:01 UTC was dropped" in sentence
    assert "an older change arriving at 14:02:02 UTC (out of order) was dropped" in sentence
    assert "a change at 14:02:03 UTC was dropped (record_not_found)" in sentence
    assert tl.explain()[P].sentence == NO_DECISION


def test_a_tool_edit_of_a_field_the_platform_owns_is_not_taken_in() -> None:
    tl = Timeline()
    created_and_written(tl)
    edit = tl.add("received", (T,), trace="t5", delivery="d-5", origin="user", record="sys-1")
    skip = tl.add("skipped", (T,), rule="ownership", trace="t5", source=T)
    answer = tl.explain()
    assert answer[T].sentence == (
        f"Edited on {T} at 14:02:03 UTC (delivery d-5); that edit was not taken in because "
        "the platform owns the field."
    )
    assert answer[T].entries == (edit.id, skip.id)
    assert answer[P].sentence.endswith(
        f"; {T}'s later edit at 14:02:04 UTC was not taken in because the platform owns the field."
    )
    assert skip.id in answer[P].entries


def test_direction_one_way_either_way() -> None:
    outbound = Timeline()  # platform→tool only: the tool's edit is not taken in (the gate)
    outbound.add("skipped", (T,), rule="direction", delivery="d-9", origin="user")
    answer = outbound.explain()
    clause = "because the integration's direction is platform→tool only"
    assert answer[T].sentence == f"Its edit at 14:02:00 UTC was not taken in {clause}."
    assert answer[P].sentence == f"{T}'s edit at 14:02:00 UTC was not taken in {clause}."

    inbound = Timeline()  # tool→platform only: the platform's change is not written there
    inbound.add("received", (P,), trace="t1", delivery="d-1", origin="user")
    inbound.add("skipped", (T,), rule="direction", trace="t1", source=P)
    answer = inbound.explain()
    assert answer[T].sentence == (
        f"{P}'s change at 14:02:01 UTC was not written here because the integration's "
        "direction is tool→platform only."
    )
    assert "not written" not in answer[P].sentence


def test_a_one_way_direction_is_said_even_where_the_timeline_has_nothing() -> None:
    # An outbound-only integration's webhooks are ignored at the ingress: no entry at all.
    tl = Timeline()
    made, _ = created_and_written(tl)
    answer = tl.explain(directions={T: "outbound", "tool-b": "bidirectional"})
    clause = "because the integration's direction is platform→tool only"
    assert answer[P].sentence == (
        f"Set when the incident was made on {P} at 14:02:00 UTC (delivery d-1); "
        f"{T}'s edits are not taken in {clause}."
    )
    assert answer[P].entries == (made.id,)  # the direction rests on no entry
    assert answer[T].sentence.endswith(f"; its edits are not taken in {clause}.")
    alone = Timeline().explain(directions={T: "outbound"})[T]
    assert (alone.sentence, alone.entries, alone.at) == (
        f"Its edits are not taken in {clause}.",
        (),
        None,
    )

    inbound = Timeline().explain(directions={T: "inbound", P: "inbound"})
    assert inbound[T].sentence == (
        "Nothing is written here because the integration's direction is tool→platform only."
    )
    assert inbound[P].sentence == NO_DECISION  # the platform's own direction is no one-way side

    # Said once: where an entry says it already, the configuration adds nothing.
    skipped = Timeline()
    skipped.add("skipped", (T,), rule="direction", source=P)
    sentence = skipped.explain(directions={T: "inbound"})[T].sentence
    assert sentence.count("tool→platform only") == 1
    gate = Timeline()
    gate.add("skipped", (T,), rule="direction", delivery="d-1")
    answer = gate.explain(directions={T: "outbound"})
    assert answer[P].sentence.count("platform→tool only") == 1
    assert answer[T].sentence.count("platform→tool only") == 1


def test_the_reasons_a_change_is_not_written_on_a_target() -> None:
    tl = Timeline()
    for rule in ("ownership", "mapping", "trigger", "detached", "superseded", "paused", "odd"):
        tl.add("skipped", (T,), rule=rule, source=P)
    sentence = tl.explain()[T].sentence
    for said in (
        f"because {T} owns the field",
        "the integration's mapping does not carry the field out",
        "does not match the integration's trigger",
        "its record was deleted there and is not made again",
        "a newer change superseded it",
        "the integration is paused",
        "of rule odd",
    ):
        assert said in sentence, said
    assert tl.explain()[P].sentence == NO_DECISION  # a target's skip says nothing of the source


def test_the_reasons_an_edit_is_not_taken_in() -> None:
    tl = Timeline()
    tl.add("received", (T,), trace="a", delivery="d-1")
    tl.add("skipped", (T,), rule="mapping", trace="a", source=T)
    tl.add("skipped", (T,), rule="parked", trace="b")  # the arbiter's: its side is the source
    sentence = tl.explain()[T].sentence
    assert "that edit was not taken in because the integration's mapping does not take" in sentence
    assert "the field is parked in a conflict awaiting review" in sentence


def test_a_skip_written_before_sources_were_recorded_reads_its_source_from_the_trace() -> None:
    tl = Timeline()
    tl.add("received", (T,), trace="t7", delivery="d-7")
    tl.add("skipped", (T,), rule="ownership", trace="t7")  # no source detail
    assert "that edit was not taken in because the platform owns" in tl.explain()[T].sentence
    other = Timeline()
    other.add("received", (P,), trace="t8", delivery="d-8")
    other.add("skipped", (T,), rule="ownership", trace="t8")
    assert other.explain()[T].sentence.startswith(f"{P}'s change at 14:02:01 UTC was not written")
    untraced = Timeline()
    untraced.add("skipped", (T,), rule="ownership")
    assert untraced.explain()[T].sentence.startswith("A change at 14:02:00 UTC was not written")


def test_nothing_to_write_settles_the_plan() -> None:
    tl = Timeline()
    tl.add("planned", (T,), source=P)
    tl.add("skipped", (T,), rule="nothing_to_write", source=P)
    assert tl.explain()[T].sentence == (
        "At 14:02:01 UTC nothing was written because it already held the value."
    )


def test_a_conflict_parked_then_resolved_by_an_operator() -> None:
    tl = Timeline()
    created_and_written(tl)
    tl.add("received", (T,), trace="c1", delivery="d-t", origin="user")
    tl.add("received", (P,), trace="c2", delivery="d-p", origin="user")
    tl.add("conflict_detected", (P, T), rule="manual-review", trace="c2", conflict="conflict-1")
    parked = tl.add("conflict_parked", (P, T), rule="manual_review", trace="c2",
                    conflict="conflict-1")  # fmt: skip
    while_parked = tl.explain()
    for side in (P, T):
        assert "a conflict at 14:02:06 UTC (conflict-1) is parked for review" in (
            while_parked[side].sentence
        )
        assert parked.id in while_parked[side].entries
    assert while_parked[P].sentence.startswith(f"Edited on {P} at 14:02:04 UTC")

    tl.add("received", (T,), trace="r", delivery="resolve:conflict-1", origin="manual")
    resolved = tl.add("conflict_resolved", (P, T), rule="use-external", trace="r",
                      conflict="conflict-1", winner=T, resolver="alice")  # fmt: skip
    tl.add("planned", (P,), trace="r", source=T)
    written = tl.add("written", (P,), trace="r", source=T, status=200)
    answer = tl.explain()
    said = (
        "a conflict at 14:02:06 UTC (conflict-1) was parked, then resolved at 14:02:08 UTC by "
        f"alice choosing {T}'s value (use-external)"
    )
    assert (
        answer[P].sentence == f"Written by us at 14:02:10 UTC with {T}'s value (HTTP 200); {said}."
    )
    assert answer[P].entries == (parked.id, resolved.id, written.id)
    # the winner's own edit stands (the resolution's change is no edit of it)
    assert answer[T].sentence == f"Edited on {T} at 14:02:03 UTC (delivery d-t); {said}."

    # A later edit of the platform is a new basis: the resolution is no longer why.
    tl.add("received", (P,), trace="n", delivery="d-n", origin="user")
    assert tl.explain()[P].sentence == f"Edited on {P} at 14:02:11 UTC (delivery d-n)."


def test_conflicts_settled_by_the_strategy_or_ignored() -> None:
    tl = Timeline()
    tl.add("conflict_detected", (P, T), rule="last-write-wins", conflict="conflict-2")
    tl.add("conflict_resolved", (P, T), rule="last-write-wins", conflict="conflict-2",
           winner=P, resolver="auto")  # fmt: skip
    assert tl.explain()[T].sentence == (
        "A conflict at 14:02:01 UTC (conflict-2) settled at 14:02:01 UTC by last-write-wins: "
        f"{P}'s value stands."
    )
    ignored = Timeline()
    ignored.add("conflict_parked", (P, T), conflict="conflict-3")
    ignored.add("conflict_resolved", (P, T), rule="ignore", conflict="conflict-3",
                resolver="bob")  # fmt: skip
    assert "resolved at 14:02:01 UTC by bob choosing to keep each side's value" in (
        ignored.explain()[P].sentence
    )


def test_healed_by_the_reconciler_and_the_write_it_led_to() -> None:
    tl = Timeline()
    created_and_written(tl)
    heal = tl.add("healed", (T,), rule="mismatch", trace="h", run="rec-1", heal="take_external",
                  record="sys-1")  # fmt: skip
    tl.add("received", (T,), trace="h2", delivery="heal:1", origin="reconciler")
    written = tl.add("written", (P,), trace="h2", source=T, status=200)
    answer = tl.explain()
    assert answer[P].sentence == (
        f"Written by us at 14:02:05 UTC with {T}'s value (HTTP 200); healed by the reconciler at "
        f"14:02:03 UTC (mismatch, run rec-1): the platform takes {T}'s value."
    )
    assert answer[P].entries == (heal.id, written.id)
    assert answer[T].sentence.endswith(
        "healed by the reconciler at 14:02:03 UTC (mismatch, run rec-1): the platform takes "
        "this side's value."
    )


def test_writes_that_did_not_land() -> None:
    tl = Timeline()
    tl.add("planned", (T,), source=P)
    tl.add("retried", (T,), status=503, source=P)
    tl.add("dead_lettered", (T,), status=400, source=P)
    tl.add("deferred", (T,), rule="rate_limited", source=P)
    tl.add("held", (T,), rule="paused", source=P)
    tl.add("quarantined", (T,), rule="RequestNotSent")
    sentence = tl.explain()[T].sentence
    assert sentence.startswith("A write at 14:02:01 UTC failed (HTTP 503) and is retried")
    assert "a write at 14:02:02 UTC was refused (HTTP 400) and dead-lettered" in sentence
    assert "a write at 14:02:03 UTC was deferred (rate_limited)" in sentence
    assert "a write at 14:02:04 UTC is held: the integration is paused" in sentence
    assert "could not be made (RequestNotSent) and is quarantined" in sentence
    assert "planned" not in sentence  # each outcome settles the plan
    # ... and a later write is what the field holds: the failures before it are forgotten
    tl.add("written", (T,), source=P, status=200)
    assert (
        tl.explain()[T].sentence == "Written by us at 14:02:06 UTC from platform's edit (HTTP 200)."
    )


def test_a_plan_without_outcome_is_said() -> None:
    tl = Timeline()
    tl.add("planned", (T, "tool-b"), source=P)
    answer = tl.explain(sides=(P, T))
    assert answer[T].sentence == "A write planned at 14:02:00 UTC has no outcome yet."
    assert answer["tool-b"].sentence == answer[T].sentence  # a side only the entries name


def test_an_operators_sync_reads_the_record() -> None:
    tl = Timeline()
    tl.add("received", (T,), delivery="manual-1", origin="manual")
    assert tl.explain()[T].sentence == (
        f"Read from {T} at 14:02:00 UTC by an operator's sync (delivery manual-1)."
    )


def test_entries_of_other_fields_and_the_links_are_passed_over() -> None:
    tl = Timeline()
    tl.add("linked", (T,), (), rule="created", record="sys-1")
    tl.add("written", (T,), ("severity",), source=P, status=200)
    assert [r.sentence for r in tl.explain().values()] == [NO_DECISION, NO_DECISION]
    assert tl.explain("severity")[T].sentence.startswith("Written by us")


def test_custom_fields_and_unknown_kinds() -> None:
    tl = Timeline()
    tl.add("written", (T,), ("custom.Team",), source=P)
    tl.add("some_new_kind", (T,), ("custom.Team",))
    assert tl.explain("custom.Team")[T].sentence == (
        "Written by us at 14:02:00 UTC from platform's edit."
    )


def test_times_carry_their_date_unless_today() -> None:
    at = datetime(2026, 12, 1, 9, 5, 7, tzinfo=UTC)
    assert when(at) == "2026-12-01 09:05:07 UTC"
    assert when(at, date(2026, 12, 1)) == "09:05:07 UTC"
    assert when(at, DAY) == "2026-12-01 09:05:07 UTC"


# -- properties ---------------------------------------------------------------------------------
KINDS = ["received", "dropped", "skipped", "conflict_detected", "conflict_parked",
         "conflict_resolved", "planned", "written", "created", "deferred", "held", "retried",
         "dead_lettered", "quarantined", "healed", "linked", "unlinked", "future_kind"]  # fmt: skip
RULES = [None, "ownership", "direction", "mapping", "parked", "trigger", "detached",
         "nothing_to_write", "echo_actor", "echo_or_noop", "duplicate", "stale",
         "use-external", "use-platform", "ignore", "last-write-wins", "mismatch", "x"]  # fmt: skip
SIDES = [P, T, "tool-b"]
FIELDS = ["title", "severity", "custom.Team"]
details: st.SearchStrategy[Mapping[str, Detail]] = st.dictionaries(
    st.sampled_from(
        [
            "source",
            "delivery",
            "origin",
            "event",
            "record",
            "status",
            "conflict",
            "winner",
            "resolver",
            "heal",
            "run",
        ]
    ),
    st.one_of(
        st.none(),
        st.sampled_from(
            [*SIDES, "resolve:c", "auto", "manual", "reconciler", "created", "take_external"]
        ),
        st.integers(100, 599),
    ),
)
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.lists(st.sampled_from(SIDES), max_size=2, unique=True).map(tuple),
        st.lists(st.sampled_from(FIELDS), max_size=2, unique=True).map(tuple),
        st.sampled_from(RULES),
        st.sampled_from([None, "t1", "t2"]),
        details,
    ),
    max_size=25,
).map(
    lambda rows: [
        Step(f"{n + 1}-0", START + timedelta(seconds=n), *row) for n, row in enumerate(rows)
    ]
)


directions = st.dictionaries(
    st.sampled_from(SIDES), st.sampled_from(["outbound", "inbound", "bidirectional"])
)


@given(steps, st.sampled_from(FIELDS), directions)
def test_every_side_once_in_order_one_sentence_resting_on_the_fields_entries(
    timeline: list[Step], field: str, ways: dict[str, str]
) -> None:
    answer = explain(field, timeline, (P, T), directions=ways, today=DAY)
    sides = [r.side for r in answer]
    assert sides[:2] == [P, T] and len(sides) == len(set(sides))
    named = {s for step in timeline if field in step.fields for s in step.sides}
    assert set(sides) == {P, T} | named
    mine = {s.id: s for s in timeline if field in s.fields}
    for reason in answer:
        text = reason.sentence
        assert text.endswith(".") and "\n" not in text
        assert text[0].isupper() or any(text.startswith(f"{s}'s") for s in sides)
        assert set(reason.entries) <= set(mine)
        assert list(reason.entries) == sorted(reason.entries, key=lambda i: int(i.split("-")[0]))
        if reason.entries:
            assert reason.at == mine[reason.entries[-1]].at
        else:
            assert reason.at is None
            assert text == NO_DECISION or "direction" in text


@given(steps, steps, st.sampled_from(FIELDS))
def test_entries_of_other_fields_change_nothing(
    timeline: list[Step], noise: list[Step], field: str
) -> None:
    others = [
        Step(
            f"9{s.id}",
            s.at,
            s.kind,
            s.sides,
            tuple(f for f in s.fields if f != field) or ("x",),
            s.rule,
            s.trace_id,
            s.detail,
        )
        for s in noise
    ]
    mixed = sorted([*timeline, *others], key=lambda s: s.at)
    assert explain(field, mixed, (P, T)) == explain(field, timeline, (P, T))


def test_a_write_while_a_conflict_is_parked_keeps_the_parking_said() -> None:
    """Our write of the other side's value can land on a person's edit just as the field is
    parked; the put-back of that side's own value comes after the parking, and the parking
    is still the reason (a full run once showed only the put-back)."""
    at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    steps = [
        Step("1", at, "conflict_parked", ("platform", "prod-snow"), ("title",),
             detail={"conflict": "conflict-1"}),
        Step("2", at, "written", ("platform",), ("title",),
             detail={"source": "platform", "status": 200}),
    ]  # fmt: skip
    reasons = {r.side: r for r in explain("title", steps, ["platform", "prod-snow"])}
    assert "conflict-1" in reasons["platform"].sentence and "parked" in reasons["platform"].sentence
