"""The declare rule (`syncmodel.declare`), pure: which unlinked records declare an incident,
with which fields, under which idempotency seed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from incident_sync.syncmodel.declare import Declare, declare_key, declared_fields, should_declare
from incident_sync.syncmodel.fields import Owner
from incident_sync.syncmodel.ownership import FieldOwnership

P1 = Declare.model_validate({"when": {"all": [{"field": "priority", "equals": "P1"}]}})
HIGH = Declare.model_validate(
    {
        "when": {
            "all": [
                {"field": "severity", "in": ["critical", "major"]},
                {"field": "status", "not_in": ["closed"]},
            ]
        }
    }
)


def test_a_record_declares_only_when_unlinked_and_matching() -> None:
    assert should_declare(P1, False, {"priority": "P1", "title": "DB down"})
    assert should_declare(P1, False, {"priority": "p1"})  # as the trigger: case folded
    assert not should_declare(P1, True, {"priority": "P1"})  # linked already
    assert not should_declare(P1, False, {"priority": "P3"})
    assert not should_declare(P1, False, {})  # the field absent: no match
    assert not should_declare(None, False, {"priority": "P1"})  # no rule: off


def test_every_condition_must_hold() -> None:
    assert should_declare(HIGH, False, {"severity": "major", "status": "open"})
    assert not should_declare(HIGH, False, {"severity": "major", "status": "closed"})
    assert not should_declare(HIGH, False, {"severity": "minor", "status": "open"})


def test_an_empty_condition_list_matches_every_record() -> None:
    anything = Declare.model_validate({"when": {}})
    assert should_declare(anything, False, {})


@pytest.mark.parametrize(
    "raw",
    [
        {},  # no `when`
        {"when": {"all": [{"field": "priority"}]}},  # no test
        {"when": {"all": [{"field": "priority", "equals": "P1", "in": ["P1"]}]}},  # two
        {"when": {"all": [{"field": "", "equals": "P1"}]}},  # no field
        {"when": {"any": []}},  # unknown key
        {"when": {}, "if": {}},  # unknown key
    ],
)
def test_a_bad_rule_is_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Declare.model_validate(raw)


def test_the_key_is_the_same_for_every_attempt_and_differs_per_record() -> None:
    assert declare_key("prod-snow", "abc") == declare_key("prod-snow", "abc")
    assert declare_key("prod-snow", "abc") != declare_key("prod-snow", "abd")
    assert declare_key("prod-snow", "abc") != declare_key("prod-jira", "abc")


def test_the_incident_gets_what_the_integration_may_contribute() -> None:
    state = {"title": "DB down", "description": "", "priority": "P1", "status": "open"}
    rules = {"priority": FieldOwnership(owner=Owner.PLATFORM)}
    fields = declared_fields(state, {"title", "description", "priority"}, rules)
    # Not mapped in (status), owned by the platform (priority), empty (description): left out.
    assert fields == {"title": "DB down"}
