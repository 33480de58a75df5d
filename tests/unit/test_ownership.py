"""Field ownership rules: per-type defaults, explicit rules, and what each owner lets through."""

from __future__ import annotations

import pytest

from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.fields import Owner
from incident_sync.syncmodel.ownership import FieldOwnership, accepts_inbound, writes_outbound


def integration(tool: str, **extra: object) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": "x", "type": tool, "base_url": "http://x", **extra}
    )


@pytest.mark.parametrize(
    ("tool", "platform_owned", "external_owned"),
    [
        ("servicenow", {"severity", "title", "description"}, {"assignee", "comment"}),
        ("jira", {"severity", "priority"}, {"assignee", "comment"}),
        ("pagerduty", {"title", "description"}, {"escalation_policy", "assignee"}),
    ],
)
def test_each_tool_type_has_the_guides_defaults(
    tool: str, platform_owned: set[str], external_owned: set[str]
) -> None:
    rules = integration(tool).ownership_rules()
    assert {f for f, r in rules.items() if r.owner is Owner.PLATFORM} == platform_owned
    assert {f for f, r in rules.items() if r.owner is Owner.EXTERNAL} == external_owned


def test_an_explicit_empty_rule_set_shares_every_field() -> None:
    rules = integration("servicenow", ownership={}).ownership_rules()
    assert rules == {}
    assert accepts_inbound(rules, "title") and writes_outbound(rules, "title")


def test_explicit_rules_replace_the_defaults() -> None:
    cfg = integration("servicenow", ownership={"status": {"owner": "external", "priority": 5}})
    assert cfg.ownership_rules() == {"status": FieldOwnership(owner=Owner.EXTERNAL, priority=5)}


def test_platform_owned_fields_ignore_inbound_and_external_owned_skip_outbound() -> None:
    rules = integration("servicenow").ownership_rules()
    assert not accepts_inbound(rules, "title") and writes_outbound(rules, "title")
    assert accepts_inbound(rules, "assignee") and not writes_outbound(rules, "assignee")
    assert accepts_inbound(rules, "status") and writes_outbound(rules, "status")  # shared
