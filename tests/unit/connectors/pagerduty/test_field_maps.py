"""Declared field maps (`IntegrationConfig.field_maps`) through the PagerDuty connector against
the PagerDuty sandbox over HTTP: incident custom field values set after a create or an
update (`PUT /incidents/{id}/custom_fields/values`) and read back (`GET` of the same), their
webhook a refresh of the mapped fields; a refused value sends nothing, a skipped one leaves
the incident's field as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.pagerduty.customvalues import NotWritable, native_values, to_pd
from incident_sync.sandbox.pagerduty.state import STATE
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.pagerduty.helpers import FROM, SECRET, TOKEN, sample
from tests.unit.connectors.pagerduty.test_connector import SPEC, pd, ui
from tests.unit.connectors.pagerduty.test_webhook import envelope
from tests.unit.connectors.sandbox_harness import Harness

__all__ = ["pd"]  # the sandbox fixture

VALUES = "/custom_fields/values"
MAPS: list[dict[str, Any]] = [
    {
        "platform": "custom.Env",
        "tool": "custom_fields.environment",  # single_value_fixed: prod, staging
        "value_map": {"values": {"Production": "prod", "Staging": "staging"}, "unmapped": "refuse"},
    },
    {
        "platform": "custom.Regions",
        "tool": "custom_fields.regions",  # multi_value_fixed
        "value_map": {"values": {"EU": "eu-west-1", "Both": "eu-west-1, us-east-1"}},  # skip
    },
    {"platform": "custom.Affected", "tool": "custom_fields.customers_affected"},  # integer
]


def config_with(
    maps: list[dict[str, Any]], url: str = "https://api.pagerduty.com"
) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-pd",
            "type": "pagerduty",
            "tenant": "acme",
            "base_url": url,
            "username": FROM,
            "api_key": TOKEN,
            "webhook_secret": SECRET,
            "options": {"service_id": "PSVC001"},
            "field_maps": maps,
        }
    )


@pytest.fixture
async def connector(pd: Harness) -> AsyncIterator[PagerDutyConnector]:
    conn = PagerDutyConnector(config_with(MAPS, pd.url))
    yield conn
    await conn.aclose()
    # The spec's value schema is a list of objects `{"value": ...}` where its own examples
    # (and PagerDuty) send the bare value: those bodies are checked here, the rest by it.
    checked = [r for r in pd.requests if not r.path.endswith(VALUES)]
    assert [p for r in checked for p in spec(SPEC).problems(r)] == []


def puts(pd: Harness, incident_id: str) -> list[Any]:
    return [
        orjson.loads(r.body)["custom_fields"]
        for r in pd.requests
        if r.method == "PUT" and r.path == f"/incidents/{incident_id}{VALUES}"
    ]


async def events(pd: Harness, connector: PagerDutyConnector) -> list[ChangeEvent]:
    assert pd.app is not None
    await pd.app[STATE].sender.drain()
    out: list[ChangeEvent] = []
    for hook in pd.webhooks():
        headers = httpx.Headers(hook.headers)
        connector.verify(headers, hook.body)
        out.extend(connector.parse(headers, hook.body))
    return out


async def test_custom_field_values_are_set_after_a_create_and_read_back(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    record = await connector.create(
        "01HMAPS",
        {
            "title": "t",
            "custom.Env": "Production",
            "custom.Regions": "Both",
            "custom.Affected": "12",
        },
    )
    (sent,) = puts(pd, record.external_id)
    assert sorted(sent, key=lambda v: v["name"]) == [
        {"name": "customers_affected", "value": 12},
        {"name": "environment", "value": "prod"},
        {"name": "regions", "value": ["eu-west-1", "us-east-1"]},
    ]
    expected = {"custom.Env": "Production", "custom.Regions": "Both", "custom.Affected": "12"}
    assert {k: record.fields[k] for k in expected} == expected
    fetched = await connector.fetch(record.external_id)
    assert {k: fetched.fields.get(k) for k in expected} == expected
    many = await connector.fetch_many([record.external_id])
    assert many[record.external_id].fields["custom.Env"] == "Production"
    view = await ui(pd, "GET", f"/_sandbox/incidents/{record.external_id}")
    assert view["custom_field_values"]["environment"] == "prod"  # type: ignore[index]


async def test_an_update_sets_the_value_and_its_webhook_is_a_refresh_of_the_mapped_field(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    record = await connector.create("01HMAPEDIT", {"title": "t", "custom.Env": "Production"})
    written = await connector.update(record.external_id, {"custom.Env": "Staging"})
    assert written.stored == {"custom.Env": "Staging"}
    assert written.version is not None  # the values moved the incident's updated_at
    assert puts(pd, record.external_id)[-1] == [{"name": "environment", "value": "staging"}]
    assert (await connector.fetch(record.external_id)).fields["custom.Env"] == "Staging"
    refreshes = [e for e in await events(pd, connector) if e.kind is ChangeKind.REFRESH]
    assert [(e.external_id, e.only_fields) for e in refreshes] == [
        (record.external_id, ("custom.Env",)),
        (record.external_id, ("custom.Env",)),
    ]  # the create's values, then the update's
    # A responder's change of a field no map names is not synced.
    await ui(pd, "POST", f"/_sandbox/incidents/{record.external_id}/custom_fields",
             values={"runbook": "https://wiki.example/run"})  # fmt: skip
    await ui(pd, "POST", f"/_sandbox/incidents/{record.external_id}/custom_fields",
             values={"environment": "prod"})  # fmt: skip
    later = [e for e in await events(pd, connector) if e.kind is ChangeKind.REFRESH]
    assert len(later) == 3
    assert (await connector.fetch(record.external_id)).fields["custom.Env"] == "Production"


async def test_a_refused_value_sends_nothing(pd: Harness, connector: PagerDutyConnector) -> None:
    with pytest.raises(ToolError, match="'QA' is not in the value map") as caught:
        await connector.create("01HREFUSED", {"title": "t", "custom.Env": "QA"})
    assert not caught.value.retryable
    assert [r for r in pd.requests if r.method == "POST" and r.path == "/incidents"] == []
    record = await connector.create("01HREFUSE2", {"title": "t", "custom.Env": "Staging"})
    with pytest.raises(ToolError):
        await connector.update(record.external_id, {"title": "new", "custom.Env": "QA"})
    with pytest.raises(ToolError, match="not a number"):
        await connector.update(record.external_id, {"title": "new", "custom.Affected": "many"})
    assert [r for r in pd.requests if r.method == "PUT" and "values" not in r.path] == []
    assert len(puts(pd, record.external_id)) == 1  # the create's
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Env"]) == ("t", "Staging")


async def test_a_value_outside_a_fixed_fields_options_makes_no_incident(pd: Harness) -> None:
    # The values are set after the create: a value PagerDuty would refuse is refused first.
    maps = [{"platform": "custom.E", "tool": "custom_fields.environment"}]  # no value map
    conn = PagerDutyConnector(config_with(maps, pd.url))
    try:
        with pytest.raises(ToolError, match="not among its options") as caught:
            await conn.create("01HOPTION", {"title": "t", "custom.E": "qa"})
    finally:
        await conn.aclose()
    assert not caught.value.retryable
    assert [r for r in pd.requests if r.method in ("POST", "PUT")] == []


async def test_a_skipped_value_leaves_the_incidents_field_as_it_was(
    pd: Harness, connector: PagerDutyConnector
) -> None:
    record = await connector.create("01HSKIP", {"title": "t", "custom.Regions": "EU"})
    written = await connector.update(record.external_id, {"title": "u", "custom.Regions": "Mars"})
    # Not sent (`Connector.fit` leaves it out): the write leaves the incident's value.
    assert written.stored == {"title": "u"}  # nothing is remembered as written there
    assert len(puts(pd, record.external_id)) == 1  # the create's only
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Regions"]) == ("u", "EU")
    written = await connector.update(record.external_id, {"custom.Regions": "Mars"})
    assert written.stored == {}
    assert len(puts(pd, record.external_id)) == 1
    assert len([r for r in pd.requests if r.method == "PUT"]) == 2  # the create's, the title


def test_the_documented_field_values_event_is_a_refresh_of_the_mapped_fields_it_changed() -> None:
    data = sample("event_data_incident_field_values.json")  # environment changed, region not
    body = orjson.dumps(envelope("incident.custom_field_values.updated", data))
    headers = httpx.Headers({"X-Webhook-Id": "wh-cf"})
    cfg = config_with([*MAPS, {"platform": "custom.Region", "tool": "custom_fields.region"}])
    (event,) = PagerDutyConnector(cfg).parse(headers, body)
    assert (event.kind, event.external_id, event.only_fields) == (
        ChangeKind.REFRESH,
        "PBAZLIU",
        ("custom.Env",),
    )
    assert PagerDutyConnector(config_with([MAPS[1]])).parse(headers, body) == []  # not mapped


@pytest.mark.parametrize(
    ("data_type", "field_type", "value", "expected"),
    [
        ("string", "single_value", "x", "x"),
        ("string", "single_value_fixed", "", None),
        ("integer", "single_value", "12", 12),
        ("float", "single_value", "2.5", 2.5),
        ("boolean", "single_value", "True", True),
        ("string", "multi_value_fixed", "eu-west-1, us-east-1", ["eu-west-1", "us-east-1"]),
        ("string", "multi_value", "", None),
    ],
)
def test_custom_field_values_take_their_fields_type(
    data_type: str, field_type: str, value: str, expected: object
) -> None:
    options = [{"data": {"value": v}} for v in ("eu-west-1", "us-east-1")]
    field: dict[str, Any] = {"name": "f", "data_type": data_type, "field_type": field_type}
    field["field_options"] = options
    assert to_pd(field, value) == expected


def test_custom_field_values_of_another_type_are_refused_and_values_read_as_text() -> None:
    with pytest.raises(NotWritable):
        to_pd({"name": "f", "data_type": "boolean", "field_type": "single_value"}, "maybe")
    shown: list[dict[str, Any]] = [
        {"name": "a", "value": ["x", "y"]},
        {"name": "b", "value": False},
        {"name": "c", "value": 3.0},
        {"name": "d", "value": None},
    ]
    assert native_values(shown) == {
        "custom_fields.a": "x, y",
        "custom_fields.b": "false",
        "custom_fields.c": "3",
        "custom_fields.d": None,
    }
