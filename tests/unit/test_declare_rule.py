"""The declare rule (`syncmodel.declare`), pure: which unlinked records declare an incident,
with which fields, under which idempotency seed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from incident_sync.syncmodel.declare import (
    Declare,
    declare_key,
    declared_fields,
    should_declare,
    unseen_fields,
)
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


GROUP = Declare.model_validate(
    {
        "when": {
            "all": [
                {"field": "severity", "equals": "critical"},
                {"field": "tool.assignment_group", "equals": "Database"},
            ]
        }
    }
)


def test_a_tool_condition_tests_the_tools_own_value_in_any_of_its_forms() -> None:
    state = {"severity": "critical"}
    assert GROUP.tool_fields() == {"assignment_group"}
    assert should_declare(GROUP, False, state, {"assignment_group": ("Database", "a1b2")})
    assert not should_declare(GROUP, False, state, {"assignment_group": ("Network", "c3d4")})
    by_id = Declare.model_validate(
        {"when": {"all": [{"field": "tool.service", "in": ["PSVC001"]}]}}
    )
    assert should_declare(by_id, False, {}, {"service": ("Checkout API", "PSVC001")})
    # The tool value is the rule's alone: a platform field of that name is not it.
    assert not should_declare(GROUP, False, {**state, "tool.assignment_group": "Database"})


def test_a_tool_field_the_record_lacks_matches_no_test_not_even_not_in() -> None:
    other = Declare.model_validate(
        {"when": {"all": [{"field": "tool.issuetype", "not_in": ["Task"]}]}}
    )
    assert should_declare(other, False, {}, {"issuetype": ("Incident", "10001")})
    assert not should_declare(other, False, {}, {"issuetype": ("Task", "10002")})
    assert not should_declare(other, False, {}, {})  # no such field: no match
    assert should_declare(other, False, {}, {"issuetype": ()})  # empty: in no list


def test_a_condition_on_a_field_never_seen_is_named() -> None:
    rule = Declare.model_validate(
        {
            "when": {
                "all": [
                    {"field": "priority", "equals": "P1"},
                    {"field": "custom.Team", "equals": "Payments"},
                    {"field": "tool.urgency", "equals": "high"},
                    {"field": "custom.Region", "equals": "eu"},
                ]
            }
        }
    )
    problems = unseen_fields(rule, {"title", "custom.Team"})
    assert len(problems) == 1
    assert problems[0].startswith("declare.when.all.3: 'custom.Region'")
    with pytest.raises(ValidationError, match="tool"):
        Declare.model_validate({"when": {"all": [{"field": "tool.", "equals": "x"}]}})


def test_the_sides_file_refuses_a_condition_on_a_field_never_seen() -> None:
    import incident_sync.connectors.registry  # noqa: F401 - the tool catalogue
    from incident_sync.syncmodel.config import parse_config
    from incident_sync.syncmodel.loaderrors import ConfigError

    side = {
        "id": "prod-jira",
        "type": "jira",
        "base_url": "https://acme.atlassian.net",
        "declare": {"when": {"all": [{"field": "custom.Team", "equals": "Payments"}]}},
    }
    raw = {
        "platform": {"id": "io", "type": "incidentio", "base_url": "https://api.incident.io"},
        "integrations": [side],
    }
    with pytest.raises(ConfigError, match=r"declare\.when\.all\.0: 'custom\.Team'"):
        parse_config(raw, source="sides.json", read=lambda name: pytest.fail(name))
    side["declare"] = {"when": {"all": [{"field": "tool.issuetype", "equals": "Incident"}]}}
    assert parse_config(raw, source="sides.json", read=lambda name: pytest.fail(name))
