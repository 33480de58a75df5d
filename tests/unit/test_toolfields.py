"""Tools that map values in code carry their canonical fields through routing unchanged."""

from __future__ import annotations

from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, LinkedEvent
from incident_sync.syncmodel.mapping import default_mapping
from incident_sync.syncmodel.routing import plan_deliveries
from incident_sync.syncmodel.toolfields import ToolFieldMapping


def integration(id_: str, type_: str, **extra: object) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": id_, "type": type_, "base_url": "http://x", **extra}
    )


def test_jira_and_pagerduty_get_identity_mappings_and_servicenow_keeps_its_file() -> None:
    jira = integration("prod-jira", "jira").mapping()
    assert isinstance(jira, ToolFieldMapping)
    assert {"priority", "assignee", "status"} <= jira.outbound_fields()
    assert jira.to_native({"priority": "P1", "escalation_policy": "x"}) == {"priority": "P1"}
    pd = integration("prod-pd", "pagerduty").mapping()
    assert "escalation_policy" in pd.inbound_fields() and "description" not in pd.outbound_fields()
    assert not isinstance(integration("prod-snow", "servicenow").mapping(), ToolFieldMapping)


def test_a_pagerduty_priority_change_fans_out_to_the_platform_and_jira() -> None:
    config = SyncConfig(
        platform=integration("incidentio", "incidentio"),
        integrations=(integration("prod-jira", "jira"), integration("prod-pd", "pagerduty")),
    )
    mappings = {
        "incidentio": default_mapping(),
        "prod-jira": config.integrations[0].mapping(),
        "prod-pd": config.integrations[1].mapping(),
    }
    event = ChangeEvent(
        delivery_id="d",
        integration_id="prod-pd",
        external_id="PD1",
        kind=ChangeKind.UPDATED,
        changes={"priority": FieldChange(new="P1"), "escalation_policy": FieldChange(new="DBA")},
    )
    linked = LinkedEvent(
        event=event,
        platform_incident_id="INC1",
        is_platform=False,
        links={"prod-jira": "10001", "prod-pd": "PD1"},
    )
    planned = {
        c.target_integration_id: c.set_fields for c in plan_deliveries(linked, config, mappings)
    }
    assert planned == {
        "incidentio": {"priority": "P1", "escalation_policy": "DBA"},
        "prod-jira": {"priority": "P1"},  # Jira has no escalation policy
    }


def test_slack_is_always_outbound() -> None:
    slack = integration("ops-slack", "slack", direction="inbound")
    assert slack.direction.value == "outbound"
    assert slack.mapping().inbound_fields() == frozenset()
