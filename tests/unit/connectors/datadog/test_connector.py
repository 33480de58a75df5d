"""The Datadog connector: the recorded API bodies read as canonical fields; against the
Datadog sandbox: create with the correlation field, find, update, and the shared-secret
webhook that asks for a re-read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.connectors.base import RecordNotFound, ToolError, WebhookRejected
from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.datadog.fields import DatadogFieldMap
from incident_sync.sandbox.datadog.app import STATE, DatadogConfig, build_app
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeKind
from tests.unit.connectors.sandbox_harness import Harness, running
from tests.vendorfiles import samples

SAMPLES = samples("datadog")
SECRET = "dd-shared-secret"


def config(base_url: str = "https://api.datadoghq.com") -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-dd",
            "type": "datadog",
            "base_url": base_url,
            "api_key": "sandbox-dd-api-key",
            "password": "sandbox-dd-app-key",
            "webhook_secret": SECRET,
        }
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rest_v2_incidents_get_response_200.json", {"status": "open", "severity": None}),
        ("rest_v2_incidents_create_response_201.json", {"status": "closed"}),
        ("rest_v2_incidents_update_response_200.json", {"status": "closed"}),
    ],
)
def test_recorded_responses_read_as_canonical_fields(name: str, expected: dict[str, Any]) -> None:
    data = orjson.loads((SAMPLES / name).read_bytes())["data"]
    fields = DatadogFieldMap().canonical(data["attributes"])
    assert fields["title"] == data["attributes"]["title"]
    assert {k: fields[k] for k in expected} == expected


def test_severity_map_both_ways() -> None:
    fields = DatadogFieldMap.from_options({"severity_map": "SEV-1=critical,SEV-2=major"})
    attributes = {"fields": {"severity": {"type": "dropdown", "value": "SEV-2"}}}
    assert fields.canonical(attributes)["severity"] == "major"
    assert fields.severity_out("critical") == "SEV-1"
    assert fields.severity_out("minor") is None


@pytest.fixture
async def dd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        return build_app(DatadogConfig(webhook_url=hook, webhook_secret=SECRET))

    async with running(build) as harness:
        yield harness


@pytest.fixture
async def connector(dd: Harness) -> AsyncIterator[DatadogConnector]:
    conn = DatadogConnector(config(dd.url))
    yield conn
    await conn.aclose()


async def test_create_find_update_fetch(dd: Harness, connector: DatadogConnector) -> None:
    record = await connector.create(
        "01HDD", {"title": "Latency", "description": "p99 4s", "severity": "major"}
    )
    assert record.reference == "IR-1" and record.platform_incident_id == "01HDD"
    assert await connector.find_linked("01HDD") == record.external_id
    assert await connector.find_linked("01HNOPE") is None
    written = await connector.update(record.external_id, {"status": "closed", "severity": None})
    assert written.version is not None
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields == {
        "title": "Latency",
        "description": "p99 4s",
        "status": "closed",
        "severity": None,
    }
    body = orjson.loads(next(r for r in dd.requests if r.method == "POST").body)
    assert body["data"]["attributes"]["fields"]["incident_sync_id"]["value"] == "01HDD"
    assert all(r.headers.get("DD-API-KEY") for r in dd.requests)


async def test_webhooks_authenticate_by_shared_secret_and_ask_for_a_re_read(
    dd: Harness, connector: DatadogConnector
) -> None:
    record = await connector.create("01HHOOK", {"title": "t"})
    assert dd.app is not None
    await dd.app[STATE].sender.drain()
    first, hook = dd.webhooks()  # the create, then the write of the ref field
    assert orjson.loads(first.body)["incident_id"] == ""  # not known yet: ignored
    assert connector.parse(httpx.Headers(first.headers), first.body) == []
    headers = httpx.Headers(hook.headers)
    connector.verify(headers, hook.body)
    (event,) = connector.parse(headers, hook.body)
    assert event.kind is ChangeKind.REFRESH and event.external_id == record.external_id
    assert event.delivery_id.startswith("dd:")
    with pytest.raises(WebhookRejected):
        connector.verify(httpx.Headers({"X-Incident-Sync-Token": "guess"}), hook.body)
    with pytest.raises(WebhookRejected, match="missing"):
        connector.verify(httpx.Headers(), hook.body)
    assert connector.parse(headers, b'{"event_type": "metric_alert_monitor"}') == []
    with pytest.raises(WebhookRejected):
        connector.parse(headers, b'{"incident_id": "../../etc"}')


async def test_errors(dd: Harness, connector: DatadogConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ToolError) as caught:
        await connector.update("missing-id", {"status": "sleeping"})
    assert not caught.value.retryable
    async with httpx.AsyncClient() as client:
        await client.post(f"{dd.url}/_sandbox/faults", json={"fail_status": 429, "fail_count": 1})
    with pytest.raises(ToolError) as caught:
        await connector.test_connection()
    assert caught.value.retryable
    bad = DatadogConnector(config(dd.url).model_copy(update={"password": None}))
    with pytest.raises(ToolError, match="DD-APPLICATION-KEY"):
        await bad.test_connection()
