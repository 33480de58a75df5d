"""Signed is not well-formed: a text field of the wrong type, or an id that breaks the id rule
(`syncmodel.ids`: 200 KB, control characters, path separators), is refused with a 422 naming
the field, for every tool's parser; a structured value of the wrong shape is ignored, never
read as cleared. Hand-made deliveries (they run without the vendors' samples); the fuzz in
test_webhook_fuzz.py covers the class from the recorded ones."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.connectors.registry import make_connector
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent
from tests.unit.connectors.datadog.test_connector import config as datadog_config
from tests.unit.connectors.incidentio.helpers import config as incidentio_config
from tests.unit.connectors.jira.helpers import config as jira_config
from tests.unit.connectors.pagerduty.helpers import config as pagerduty_config
from tests.unit.connectors.servicenow.helpers import config as servicenow_config
from tests.unit.connectors.servicenow.test_webhook import payload as servicenow_payload
from tests.unit.connectors.test_webhook_fuzz import _datadog, _pagerduty

HUGE = "a" * 200_000
BAD_IDS = [(HUGE, "longer than 128"), ("a/b", "not a valid id"), ("a\nb", "not a valid id")]


def _incidentio() -> dict[str, Any]:
    incident = {
        "id": "01HX0000000000000000000001",
        "reference": "INC-1",
        "name": "Checkout down",
        "summary": "Payments fail",
        "updated_at": "2024-05-06T07:08:09.000000Z",
        "incident_role_assignments": [
            {"role": {"role_type": "lead"}, "assignee": {"email": "Lead@Example.com"}}
        ],
    }
    return {
        "event_type": "public_incident.incident_updated_v2",
        **{"public_incident.incident_updated_v2": incident},
    }


def _jira_update() -> dict[str, Any]:
    return {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1700000000000,
        "issue": {
            "id": "10001",
            "key": "OPS-1",
            "fields": {"summary": "Checkout down", "description": "Payments fail"},
        },
        "changelog": {
            "items": [
                {"field": "description", "fieldtype": "jira", "fromString": "x", "toString": "y"}
            ]
        },
    }


def _jira_comment() -> dict[str, Any]:
    return {
        "webhookEvent": "comment_updated",
        "issue": {"id": "10001", "key": "OPS-1", "fields": {"summary": "Checkout down"}},
        "comment": {"id": "20002", "body": "Rolled back", "author": {"accountId": "5b10"}},
    }


Tool = tuple[Callable[[], IntegrationConfig], dict[str, str], Callable[[], dict[str, Any]]]
TOOLS: dict[str, Tool] = {
    "incidentio": (incidentio_config, {"webhook-id": "msg_2Kf1"}, _incidentio),
    "jira": (jira_config, {"X-Atlassian-Webhook-Identifier": "4021"}, _jira_update),
    "jira-comment": (jira_config, {"X-Atlassian-Webhook-Identifier": "4022"}, _jira_comment),
    "pagerduty": (
        pagerduty_config,
        {"X-Webhook-Id": "5ac64822"},
        lambda: _pagerduty("incident.triggered"),
    ),
    "servicenow": (
        servicenow_config,
        {"X-ServiceNow-Delivery": "0f1e2d3c"},
        servicenow_payload,
    ),
    "datadog": (datadog_config, {"X-Incident-Sync-Token": "x"}, _datadog),
}
INC = "public_incident.incident_updated_v2"


def _parse(tool: str, doc: dict[str, Any], **headers: str) -> list[ChangeEvent]:
    make_config, base_headers, _ = TOOLS[tool]
    connector = make_connector(make_config())
    assert isinstance(connector, WebhookSource)
    return connector.parse(httpx.Headers({**base_headers, **headers}), orjson.dumps(doc))


def _with(tool: str, path: tuple[str, ...], value: object) -> dict[str, Any]:
    doc = copy.deepcopy(TOOLS[tool][2]())
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_the_hand_made_deliveries_parse(tool: str) -> None:
    assert _parse(tool, TOOLS[tool][2]())


WRONG_TEXT = [
    ("incidentio", (INC, "summary"), {"x": 1}, "incident.summary: expected a string"),
    ("incidentio", (INC, "summary"), ["a"], "incident.summary: expected a string"),
    ("incidentio", (INC, "name"), {"x": 1}, "incident.name: expected a string"),
    ("jira", ("issue", "fields", "description"), ["x"], "issue.fields.description: expected"),
    ("jira", ("issue", "fields", "summary"), {"x": 1}, "issue.fields.summary: expected"),
    ("jira-comment", ("comment", "body"), {"x": 1}, "comment.body: expected"),
    ("pagerduty", ("event", "data", "title"), {"x": 1}, "title: expected a string"),
    ("servicenow", ("current", "short_description"), ["x"], "current.short_description:"),
    ("servicenow", ("old_values", "short_description"), {}, "old_values.short_description:"),
]


@pytest.mark.parametrize(("tool", "path", "value", "reason"), WRONG_TEXT)
def test_a_text_field_of_another_type_is_refused_naming_it(
    tool: str, path: tuple[str, ...], value: object, reason: str
) -> None:
    """Read as absent it would clear the other side: `summary: {"x": 1}` emptied the
    ServiceNow description."""
    with pytest.raises(WebhookRejected) as refused:
        _parse(tool, _with(tool, path, value))
    assert refused.value.status == 422 and refused.value.reason.startswith(reason)
    assert "{'x'" not in refused.value.reason  # the value is not quoted back


ID_FIELDS = [
    ("incidentio", (INC, "id"), "incident.id"),
    ("jira", ("issue", "id"), "issue.id"),
    ("jira-comment", ("comment", "id"), "comment.id"),
    ("pagerduty", ("event", "data", "id"), "event.data.id"),
    ("servicenow", ("sys_id",), "sys_id"),
    ("datadog", ("incident_id",), "incident_id"),
    ("datadog", ("event_id",), "event_id"),
]


@pytest.mark.parametrize(("tool", "path", "field"), ID_FIELDS)
@pytest.mark.parametrize(("bad", "problem"), BAD_IDS, ids=["200KB", "slash", "newline"])
def test_an_id_outside_the_id_rule_is_refused_naming_it(
    tool: str, path: tuple[str, ...], field: str, bad: str, problem: str
) -> None:
    with pytest.raises(WebhookRejected) as refused:
        _parse(tool, _with(tool, path, bad))
    assert refused.value.status == 422
    assert refused.value.reason.startswith(f"{field}: ") and problem in refused.value.reason
    assert len(refused.value.reason) < 200


@pytest.mark.parametrize(
    ("tool", "header"),
    [
        ("incidentio", "webhook-id"),
        ("jira", "X-Atlassian-Webhook-Identifier"),
        ("pagerduty", "X-Webhook-Id"),
        ("servicenow", "X-ServiceNow-Delivery"),
    ],
)
def test_a_delivery_id_header_outside_the_id_rule_is_refused(tool: str, header: str) -> None:
    with pytest.raises(WebhookRejected) as refused:
        _parse(tool, TOOLS[tool][2](), **{header: "x" * 300})
    assert refused.value.status == 422 and refused.value.reason.startswith(f"{header} header: ")


def test_structured_values_of_another_shape_are_ignored_not_cleared() -> None:
    """A lead whose assignee (or address) is of another shape: the assignee is not known,
    and stays as it is; a lead without an assignee does clear it."""
    role = (INC, "incident_role_assignments")
    assignees: list[object] = [[1], "lead@example.com", {"email": ["x"]}]
    for assignee in assignees:
        lead = [{"role": {"role_type": "lead"}, "assignee": assignee}]
        (event,) = _parse("incidentio", _with("incidentio", role, lead))
        assert "assignee" not in event.changes and event.changes["title"].new == "Checkout down"
    lead = [{"role": {"role_type": "lead"}, "assignee": None}]
    (event,) = _parse("incidentio", _with("incidentio", role, lead))
    assert event.changes["assignee"].new is None
