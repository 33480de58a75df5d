"""Field limits (syncmodel.limits): a value longer than the tool stores is cut visibly, to fit,
the same way every time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.limits import MARKER, SHORT_MARKER, cut, fit


def test_a_value_within_its_limit_is_sent_as_it_is() -> None:
    assert cut("x" * 255, 255) == "x" * 255
    assert cut(None, 10) is None
    assert cut("anything", None) == "anything"


def test_a_longer_value_keeps_its_start_and_says_it_was_cut() -> None:
    title = "Checkout latency " * 30  # 510 characters
    cut_title = cut(title, 255)
    assert cut_title is not None and len(cut_title) <= 255
    assert cut_title.endswith(MARKER)
    assert title.startswith(cut_title[: -len(MARKER)])
    # No whitespace left before the marker: what is sent is what the tool keeps.
    assert not cut_title[: -len(MARKER)].endswith(" ")
    assert cut("abcdefghij", 5) == "abcd" + SHORT_MARKER  # too short for the long marker


def test_fit_cuts_only_the_fields_with_a_limit() -> None:
    fields = {"title": "t" * 300, "description": "d" * 300, "status": None}
    fitted = fit(fields, {"title": 255})
    assert fitted["description"] == "d" * 300 and fitted["status"] is None
    assert fitted["title"] is not None and len(fitted["title"]) == 255


def test_the_measure_counts_what_the_tool_counts() -> None:
    escaped = cut("<" * 100, 40, measure=lambda s: len(s.replace("<", "&lt;")))
    assert escaped is not None and len(escaped.replace("<", "&lt;")) <= 40


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_a_cut_value_fits_and_cutting_it_again_changes_nothing(text: str, limit: int) -> None:
    once = cut(text, limit)
    assert once is not None and len(once) <= limit
    assert cut(once, limit) == once
    if len(text) <= limit:
        assert once == text
    else:
        assert normalize(once) == normalize(cut(text, limit))
