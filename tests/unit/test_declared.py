"""A side's declared field maps over its own mapping (`syncmodel.declared`), and the config key
that holds them (`IntegrationConfig.field_maps`)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from incident_sync.connectors.registry import make_connector
from incident_sync.syncmodel.config import IntegrationConfig, parse_config
from incident_sync.syncmodel.declared import DeclaredMapping, MappingRefused, declared
from incident_sync.syncmodel.fieldmaps import FieldMap
from incident_sync.syncmodel.loaderrors import ConfigError
from incident_sync.syncmodel.mapping import MappingConfig, default_mapping
from incident_sync.syncmodel.toolfields import ToolFieldMapping

IDENTITY = ToolFieldMapping(
    frozenset({"title", "priority", "status"}), frozenset({"title", "priority", "status"})
)
TEAM = FieldMap.model_validate(
    {
        "platform": "custom.Team",
        "tool": "customfield_100",
        "value_map": {"values": {"Payments": "pay", "Search": "srch"}, "unmapped": "refuse"},
    }
)
PRIORITY = FieldMap.model_validate(
    {
        "platform": "priority",
        "tool": "customfield_200",
        "direction": "outbound",
        "value_map": {"values": {"P1": "Highest"}},  # unmapped: skip
    }
)
SERVICE = FieldMap.model_validate({"platform": "custom.Service", "tool": "cmdb_ci"})


def test_declared_platform_fields_travel_and_replace_the_sides_own_mapping() -> None:
    m = DeclaredMapping(IDENTITY, [TEAM, PRIORITY])
    assert m.outbound_fields() == {"title", "status", "priority", "custom.Team"}
    # priority is declared outbound only: it is no longer taken in as the connector maps it.
    assert m.inbound_fields() == {"title", "status", "custom.Team"}
    assert m.tool_fields() == {"customfield_100"}
    assert m.written_tool_fields() == {"customfield_100", "customfield_200"}


def test_split_crosses_the_declared_values_and_leaves_the_rest_to_the_connector() -> None:
    m = DeclaredMapping(IDENTITY, [TEAM, PRIORITY])
    own, native = m.split({"title": "t", "custom.Team": "Search", "priority": "P1"})
    assert own == {"title": "t"}
    assert native == {"customfield_100": "srch", "customfield_200": "Highest"}
    # An unmapped value under `skip` is left out; under `refuse` it stops the write.
    assert m.split({"priority": "P4"}) == ({}, {})
    with pytest.raises(MappingRefused, match="'Billing' is not in the value map"):
        m.split({"custom.Team": "Billing"})


def test_joined_takes_the_declared_fields_from_the_tools_values() -> None:
    m = DeclaredMapping(IDENTITY, [TEAM, PRIORITY])
    own = {"title": "t", "priority": "P2"}  # what the connector's code read
    assert m.joined(own, {"customfield_100": "pay"}) == {"title": "t", "custom.Team": "Payments"}
    # A tool field not shown is not known (left out), a cleared one is None.
    assert m.joined({}, {}) == {}
    assert m.joined({}, {"customfield_100": None}) == {"custom.Team": None}
    # A tool value the map does not name is not taken in, and the reason is there to report.
    assert m.joined({}, {"customfield_100": "other"}) == {}
    assert m.refusals({"customfield_100": "other"}) == [
        (
            "custom.Team",
            "custom.Team <-> customfield_100: the tool value 'other' is not in the value map",
        )
    ]


def test_native_columns_cross_through_the_mapping_engines_interface() -> None:
    m = DeclaredMapping(default_mapping(), [SERVICE])
    assert m.to_native({"title": "Down", "custom.Service": "payments-api"}) == {
        "short_description": "Down",
        "cmdb_ci": "payments-api",
    }
    record = {"short_description": "Down", "cmdb_ci": "search", "urgency": "1"}
    assert m.to_canonical(record) == {"title": "Down", "custom.Service": "search"}
    assert m.canonical_of("cmdb_ci") == "custom.Service"
    assert "cmdb_ci" in m.native_inbound_fields()
    assert m.forward_fields()["custom.Service"] == "cmdb_ci"


def side(**extra: Any) -> dict[str, Any]:
    return {"id": "snow", "type": "servicenow", "base_url": "https://snow.example", **extra}


def test_an_integrations_field_maps_are_its_mapping() -> None:
    config = IntegrationConfig.model_validate(
        side(field_maps=[SERVICE.model_dump()], ownership={"custom.Service": {"owner": "external"}})
    )
    mapping = declared(config.mapping())
    assert mapping is not None and mapping.maps == (SERVICE,)
    assert "custom.Service" in config.mapping().inbound_fields()
    assert config.ownership_rules()["custom.Service"].owner.value == "external"
    assert declared(IntegrationConfig.model_validate(side()).mapping()) is None


@pytest.mark.parametrize(
    ("maps", "expected"),
    [
        ([{"platform": "bogus", "tool": "x"}], "platform"),  # neither canonical nor custom.*
        ([{"platform": "title", "tool": "x", "extra": 1}], "extra"),  # unknown key
    ],
)
def test_field_maps_that_cannot_hold_are_refused_at_load(maps: list[Any], expected: str) -> None:
    raw = [m.model_dump() if isinstance(m, FieldMap) else m for m in maps]
    with pytest.raises(ValidationError, match=expected):
        IntegrationConfig.model_validate(side(field_maps=raw))


def test_a_tool_field_written_twice_is_refused_where_the_fields_are_checked() -> None:
    raw: dict[str, Any] = {
        "platform": {"id": "p", "type": "incidentio", "base_url": "https://p"},
        "integrations": [side(field_maps=[SERVICE.model_dump(), SERVICE.model_dump()])],
    }
    with pytest.raises(ConfigError, match="written by"):
        parse_config(raw, source="sides.json", read=lambda name: MappingConfig())


def test_the_platform_has_no_field_maps() -> None:
    with pytest.raises(ValidationError, match="field maps are an integration's"):
        IntegrationConfig.model_validate(
            {
                "id": "incidentio",
                "type": "incidentio",
                "base_url": "https://api.incident.io",
                "field_maps": [SERVICE.model_dump()],
            }
        )


def test_a_template_is_filled_from_the_write_and_the_incidents_context() -> None:
    linked = {
        "platform": "description",
        "tool": "description",
        "direction": "outbound",
        "template": "{description}\n\nincident.io: {url} ({reference}) - {title}",
    }
    mapping = declared(IntegrationConfig.model_validate(side(field_maps=[linked])).mapping())
    assert mapping is not None and mapping.needs_context
    context = {"url": "https://app.incident.io/incidents/1", "reference": "INC-1", "title": "T"}
    own, native = mapping.split({"description": "Checkout down"}, context)
    assert own == {}
    assert native == {
        "description": "Checkout down\n\nincident.io: https://app.incident.io/incidents/1 "
        "(INC-1) - T"
    }
    # A field the template names is written: the template is written again, from the context.
    own, native = mapping.split({"title": "T2"}, {**context, "description": "Checkout down"})
    assert own == {"title": "T2"} and str(native["description"]).endswith("(INC-1) - T2")
    assert mapping.templated_by(["title"]) == {"description"}
    own_only = {**linked, "template": "[incident.io] {description}"}
    plain = declared(IntegrationConfig.model_validate(side(field_maps=[own_only])).mapping())
    assert plain is not None and not plain.needs_context  # no read of the platform for it


def test_a_value_its_map_skips_is_neither_sent_nor_remembered() -> None:
    m = DeclaredMapping(IDENTITY, [TEAM, PRIORITY])
    assert m.skipped({"priority": "P4", "title": "t", "custom.Team": "Search"}) == {"priority"}
    config = IntegrationConfig.model_validate(
        side(type="jira", field_maps=[PRIORITY.model_dump()], options={"project_key": "OPS"})
    )
    connector = make_connector(config)
    # What the delivery fingerprints and records as written: the skipped value is not in it.
    assert connector.sendable({"priority": "P4", "title": "t"}) == {"title": "t"}
    assert connector.sendable({"priority": "P1"}) == {"priority": "P1"}
