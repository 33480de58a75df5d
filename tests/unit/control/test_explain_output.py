"""`im incident explain`: one line per side -- its name (the platform marked), the value known
there (cut short, absent when none is known) and the sentence."""

from __future__ import annotations

from incident_sync.control.cli.incident import VALUE_WIDTH, _side_line

SENTENCE = "Written by us at 14:02:05 UTC from incidentio's edit (delivery d-1, HTTP 200)."


def side(value: str | None, platform: bool = False) -> dict[str, object]:
    return {"side": "prod-snow", "platform": platform, "value": value, "sentence": SENTENCE}


def test_a_side_on_one_line() -> None:
    assert _side_line(side("DB down")) == f"prod-snow = 'DB down': {SENTENCE}"
    assert _side_line(side(None, platform=True)) == f"prod-snow (platform): {SENTENCE}"


def test_a_long_or_multiline_value_is_cut_to_one_short_line() -> None:
    line = _side_line(side("first line\nsecond " + "x" * 200))
    assert "\n" not in line and line.endswith(f": {SENTENCE}")
    shown = line.split(" = ", 1)[1].rsplit(": ", 1)[0]
    assert len(shown) <= VALUE_WIDTH + 2 and shown.endswith("…'")
