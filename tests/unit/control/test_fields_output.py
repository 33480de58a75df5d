"""`im integration fields`: the table people read (kind with its reference, allowed values
cut to fit, max length)."""

from __future__ import annotations

import pytest

from incident_sync.control.cli.fields import ALLOWED_WIDTH, allowed, kind, show_fields

LISTED = {
    "name": "prod-snow",
    "type": "servicenow",
    "fields": [
        {"name": "assignment_group", "label": "Assignment group", "kind": "reference",
         "required": False, "allowed": None, "max_length": None, "reference": "sys_user_group",
         "writable": True},
        {"name": "category", "label": "Category", "kind": "option", "required": True,
         "allowed": [f"category-{n}" for n in range(20)], "max_length": 40, "reference": None,
         "writable": True},
        {"name": "sys_id", "label": "Sys ID", "kind": "string", "required": False,
         "allowed": None, "max_length": None, "reference": None, "writable": False},
    ],
}  # fmt: skip


def test_the_table_shows_each_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # a wide terminal: each row on one line
    show_fields(LISTED)
    out = capsys.readouterr().out
    assert "prod-snow (servicenow): 3 fields" in out
    assert "reference -> sys_user_group" in out
    assert "string (read-only)" in out
    row = next(line for line in out.splitlines() if "category" in line and "Category" in line)
    assert "yes" in row and "40" in row and "category-0, category-1" in row
    assert "category-19" not in out  # cut to fit one line


def test_allowed_values_are_cut_and_an_empty_list_is_said() -> None:
    field = LISTED["fields"][1]
    assert isinstance(field, dict)
    assert len(allowed(field)) <= ALLOWED_WIDTH and allowed(field).endswith("…")
    assert allowed({"allowed": []}) == "(none)"
    assert allowed({"allowed": None}) == ""
    assert kind({"kind": "user", "reference": "sys_user"}) == "user -> sys_user"
