"""Declared field maps (`IntegrationConfig.field_maps`) through the Datadog connector against
the Datadog sandbox over HTTP: a dropdown property field and an autocomplete one written as
`attributes.fields.<name>` on create and PATCH and read back by fetch (the webhook, a re-read,
reads them so); a refused value sends nothing, a skipped one leaves the field as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.datadog.values import NotWritable, native_values, to_dd
from incident_sync.sandbox.datadog.app import STATE
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeKind
from tests.unit.connectors.datadog.test_connector import SECRET, dd
from tests.unit.connectors.sandbox_harness import Harness

__all__ = ["dd"]  # the sandbox fixture

API = "/api/v2/incidents"
MAPS: list[dict[str, Any]] = [
    {
        "platform": "custom.Env",
        "tool": "environment",  # a dropdown: prod, staging
        "value_map": {"values": {"Production": "prod", "Staging": "staging"}, "unmapped": "refuse"},
    },
    {
        "platform": "custom.Services",
        "tool": "services",  # autocomplete: a list
        "value_map": {"values": {"Checkout": "checkout", "Shop": "checkout, payments"}},  # skip
    },
]


def config_with(maps: list[dict[str, Any]], url: str) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-dd",
            "type": "datadog",
            "base_url": url,
            "api_key": "sandbox-dd-api-key",
            "password": "sandbox-dd-app-key",
            "webhook_secret": SECRET,
            "field_maps": maps,
        }
    )


@pytest.fixture
async def connector(dd: Harness) -> AsyncIterator[DatadogConnector]:
    conn = DatadogConnector(config_with(MAPS, dd.url))
    yield conn
    await conn.aclose()


def writes(dd: Harness, method: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(r.body)["data"]["attributes"]
        for r in dd.api_requests(API)
        if r.method == method and "config" not in r.path
    ]


async def test_declared_fields_are_written_as_property_fields_and_read_back(
    dd: Harness, connector: DatadogConnector
) -> None:
    record = await connector.create(
        "01HMAPS", {"title": "t", "custom.Env": "Production", "custom.Services": "Shop"}
    )
    (sent,) = writes(dd, "POST")
    assert sent["fields"]["environment"] == {"type": "dropdown", "value": "prod"}
    assert sent["fields"]["services"] == {"type": "autocomplete", "value": ["checkout", "payments"]}
    assert sent["fields"]["incident_sync_id"]["value"] == "01HMAPS"
    expected = {"custom.Env": "Production", "custom.Services": "Shop"}
    assert {k: record.fields[k] for k in expected} == expected
    fetched = await connector.fetch(record.external_id)
    assert {k: fetched.fields.get(k) for k in expected} == expected
    assert fetched.platform_incident_id == "01HMAPS"


async def test_a_patch_writes_the_mapped_value_and_its_webhook_re_reads_it(
    dd: Harness, connector: DatadogConnector
) -> None:
    record = await connector.create("01HMAPEDIT", {"title": "t", "custom.Env": "Production"})
    written = await connector.update(record.external_id, {"custom.Env": "Staging"})
    assert written.stored == {"custom.Env": "Staging"}
    assert writes(dd, "PATCH")[-1] == {
        "fields": {"environment": {"type": "dropdown", "value": "staging"}}
    }
    # A responder's change comes as a re-read of the incident, which reads the mapped field.
    async with httpx.AsyncClient(base_url=dd.url) as client:
        edit = {"fields": {"environment": {"type": "dropdown", "value": "prod"}}}
        (
            await client.patch(f"/_sandbox/incidents/{record.external_id}", json=edit)
        ).raise_for_status()
    assert dd.app is not None
    await dd.app[STATE].sender.drain()
    hook = dd.webhooks()[-1]
    (event,) = connector.parse(httpx.Headers(hook.headers), hook.body)
    assert (event.kind, event.external_id) == (ChangeKind.REFRESH, record.external_id)
    assert (await connector.fetch(event.external_id)).fields["custom.Env"] == "Production"


async def test_a_refused_value_sends_nothing(dd: Harness, connector: DatadogConnector) -> None:
    with pytest.raises(ToolError, match="'QA' is not in the value map") as caught:
        await connector.create("01HREFUSED", {"title": "t", "custom.Env": "QA"})
    assert not caught.value.retryable
    assert writes(dd, "POST") == []
    record = await connector.create("01HREFUSE2", {"title": "t", "custom.Env": "Staging"})
    patches = len(writes(dd, "PATCH"))  # the create's write of its ref field
    with pytest.raises(ToolError):
        await connector.update(record.external_id, {"title": "new", "custom.Env": "QA"})
    assert len(writes(dd, "PATCH")) == patches
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Env"]) == ("t", "Staging")


async def test_a_skipped_value_leaves_the_field_as_it_was(
    dd: Harness, connector: DatadogConnector
) -> None:
    record = await connector.create("01HSKIP", {"title": "t", "custom.Services": "Checkout"})
    written = await connector.update(record.external_id, {"title": "u", "custom.Services": "Web"})
    # Not sent (`Connector.fit` leaves it out): the write leaves the incident's value.
    assert written.stored == {"title": "u"}  # nothing is remembered as written there
    assert writes(dd, "PATCH")[-1] == {"title": "u"}
    fetched = await connector.fetch(record.external_id)
    assert (fetched.fields["title"], fetched.fields["custom.Services"]) == ("u", "Checkout")
    patches = len(writes(dd, "PATCH"))
    written = await connector.update(record.external_id, {"custom.Services": "Web"})
    assert written.stored == {}
    assert len(writes(dd, "PATCH")) == patches  # nothing was sent


@pytest.mark.parametrize(
    ("tool", "why"),
    [("customers_affected", "no documented value shape"), ("incident_sync_id", "holds the link")],
)
async def test_fields_that_cannot_be_mapped_are_refused_before_a_write(
    dd: Harness, tool: str, why: str
) -> None:
    conn = DatadogConnector(config_with([{"platform": "custom.X", "tool": tool}], dd.url))
    try:
        with pytest.raises(ToolError, match=why):
            await conn.create("01HNOPE", {"title": "t", "custom.X": "12"})
    finally:
        await conn.aclose()
    assert writes(dd, "POST") == []


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        (1, "prod", {"type": "dropdown", "value": "prod"}),
        (3, "", {"type": "textbox", "value": None}),
        (2, "a, b", {"type": "multiselect", "value": ["a", "b"]}),
        (6, None, {"type": "autocomplete", "value": None}),
    ],
)
def test_values_take_the_documented_shape_of_their_field(
    code: int, value: str | None, expected: dict[str, object]
) -> None:
    assert to_dd({"name": "f", "type": code}, value) == expected


def test_number_fields_are_not_written_and_values_read_as_text() -> None:
    with pytest.raises(NotWritable):
        to_dd({"name": "n", "type": 7}, "3")
    fields = {
        "a": {"type": "dropdown", "value": "prod"},
        "b": {"type": "multiselect", "value": ["x", "y"]},
        "c": {"type": "textbox", "value": None},
        "d": "not a field value",
    }
    assert native_values(fields, frozenset({"a", "b", "c", "d", "e"})) == {
        "a": "prod",
        "b": "x, y",
        "c": None,
    }
