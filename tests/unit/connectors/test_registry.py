"""The connector registry: the built-in connectors come through the `incident_sync.connectors`
entry points of the installed distribution (pyproject.toml), each a `ConnectorSpec` of its
own name, with the roles its class implements; a broken entry point is left out, not fatal."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from incident_sync.connectors import registry
from incident_sync.connectors.base import Connector
from incident_sync.connectors.capabilities import Notifier
from incident_sync.connectors.slack.connector import SlackConnector
from incident_sync.connectors.spec import ConnectorSpec
from incident_sync.syncmodel import tools
from incident_sync.syncmodel.fields import Direction

BUILT_IN = {"incidentio", "servicenow", "jira", "pagerduty", "datadog", "slack"}
NOT_A_SPEC = object()


def test_the_built_in_connectors_are_registered_by_entry_point() -> None:
    assert set(registry.REGISTRY.types()) >= BUILT_IN
    assert set(registry.registered_types()) == set(registry.REGISTRY.types())
    for name, spec in registry.REGISTRY.specs.items():
        assert spec.type == name and issubclass(spec.connector, Connector)
    # the domain asks the same registry
    assert tools.catalogue() is registry.REGISTRY


def test_each_connector_has_the_roles_its_tool_has() -> None:
    specs = registry.REGISTRY.specs
    assert specs["slack"].capabilities == ("record store", "comment thread", "notifier")
    assert specs["jira"].capabilities == (
        "record store",
        "webhook source",
        "comment thread",
        "change feed",
        "field catalogue",
    )
    assert specs["servicenow"].capabilities == (
        "record store",
        "webhook source",
        "change feed",
        "field catalogue",
    )
    for tool in ("incidentio", "pagerduty", "datadog"):
        assert "field catalogue" in specs[tool].capabilities, tool
    assert specs["slack"].direction is Direction.OUTBOUND and specs["incidentio"].platform


def test_an_entry_point_that_is_no_spec_of_its_name_is_left_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module = __name__
    points = [
        EntryPoint("slack", "incident_sync.connectors.slack.spec:SPEC", registry.GROUP),
        EntryPoint("wrong", "incident_sync.connectors.slack.spec:SPEC", registry.GROUP),
        EntryPoint("junk", f"{module}:NOT_A_SPEC", registry.GROUP),
        EntryPoint("gone", "incident_sync.connectors.nosuchtool.spec:SPEC", registry.GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    found = registry.Registry()
    assert found.types() == ("slack",)
    assert {r.__dict__.get("type") for r in caplog.records} >= {"wrong", "junk", "gone"}
    with pytest.raises(ValueError, match="known: slack"):
        found.spec("jira")


def test_a_notifier_spec_must_be_outbound() -> None:
    with pytest.raises(ValueError, match="direction must be outbound"):
        ConnectorSpec(type="quiet", connector=SlackConnector)
    assert issubclass(SlackConnector, Notifier)
