"""`ChangeFeed.recent`: every record created or changed since a time, linked to an incident
or not (what `im integration link --auto` matches), against each tool's sandbox over HTTP,
as the vendor documents the query; `changed_since` still lists the linked ones only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.sandbox.datadog.app import DatadogConfig
from incident_sync.sandbox.datadog.app import build_app as datadog_app
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors import test_batch_reads as batch
from tests.unit.connectors.jira import helpers as jira_helpers
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.pagerduty import helpers as pd_helpers
from tests.unit.connectors.sandbox_harness import Harness, running
from tests.unit.connectors.test_batch_reads import (
    IO_SPEC,
    JIRA_SPEC,
    PD_SPEC,
    SN_PASSWORD,
    SN_USER,
    ui,
)

# The sandboxes, as the batch reads' tests start them.
sn, io, jira_sandbox, pd = batch.sn, batch.io, batch.jira_sandbox, batch.pd


async def test_servicenow_lists_recent_incidents_with_or_without_the_correlation(
    sn: Harness,
) -> None:
    conn = ServiceNowConnector(
        IntegrationConfig.model_validate({"id": "prod-snow", "type": "servicenow",
            "base_url": sn.url, "username": SN_USER, "password": SN_PASSWORD})
    )  # fmt: skip
    conn.batch_size = 2  # three records: two pages
    old = await ui(sn, "POST", "/_sandbox/table/incident", {"short_description": "old"})
    await asyncio.sleep(1.1)  # glide times have whole seconds
    mark = datetime.now(UTC)
    made = []
    for body in ({"short_description": "by an agent"}, {"short_description": "also"},
                 {"short_description": "ours", "u_incident_io_id": "P1"}):  # fmt: skip
        made.append((await ui(sn, "POST", "/_sandbox/table/incident", body))["result"])
    recent = await conn.recent(mark)
    assert [r.external_id for r in recent] == [m["sys_id"] for m in made]
    assert old["result"]["sys_id"] not in {r.external_id for r in recent}
    assert [r.reference for r in recent] == [m["number"] for m in made]
    assert [r.platform_incident_id for r in recent] == [None, None, "P1"]
    assert all(r.created_at is not None and r.created_at >= mark - timedelta(seconds=1)
               for r in recent)  # fmt: skip
    queries = [r.query["sysparm_query"] for r in sn.api_requests("/api/now/table/incident")]
    assert queries[-1].startswith("sys_updated_on>=") and "ISNOTEMPTY" not in queries[-1]
    # The polling fallback's listing is still the linked ones only.
    assert [r.external_id for r in await conn.changed_since(mark)] == [made[2]["sys_id"]]
    await conn.aclose()


async def test_incidentio_lists_recent_incidents(io: Harness) -> None:
    conn = IncidentIoConnector(
        IntegrationConfig.model_validate({"id": "incidentio", "type": "incidentio",
            "base_url": io.url, "api_key": "sandbox-api-key"})
    )  # fmt: skip
    mark = datetime.now(UTC) - timedelta(seconds=1)
    body = {"name": "Payments down", "summary": "s"}
    made = (await ui(io, "POST", "/_sandbox/incidents", body))["incident"]
    recent = await conn.recent(mark)
    assert [(r.external_id, r.reference, r.fields["title"]) for r in recent] == [
        (made["id"], made["reference"], "Payments down")
    ]
    assert recent[0].created_at is not None
    problems = [p for r in io.api_requests("/v2/") for p in spec(IO_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


async def test_jira_lists_recent_issues_with_or_without_a_label(jira_sandbox: Harness) -> None:
    h = jira_sandbox
    conn = JiraConnector(jira_helpers.config(h.url))
    ours = await conn.create("P1", {"title": "ours"})
    theirs = await ui(h, "POST", "/_sandbox/issues", {"summary": "raised by hand"})
    mark = datetime.now(UTC) - timedelta(seconds=30)
    recent = {r.external_id: r for r in await conn.recent(mark)}
    assert set(recent) == {ours.external_id, str(theirs["id"])}
    assert recent[str(theirs["id"])].platform_incident_id is None
    assert recent[ours.external_id].platform_incident_id == "P1"
    assert all(r.created_at is not None for r in recent.values())
    jql = h.api_requests("/rest/api/3/search")[-1].query["jql"]
    assert 'updated >= "-1m"' in jql and "labels" not in jql
    assert [r.external_id for r in await conn.changed_since(mark)] == [ours.external_id]
    problems = [p for r in h.api_requests("/rest/") for p in spec(JIRA_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


async def test_pagerduty_lists_recent_incidents_with_or_without_our_key(pd: Harness) -> None:
    conn = PagerDutyConnector(pd_helpers.config(pd.url))
    await asyncio.sleep(1.1)  # the log's times have whole seconds
    mark = datetime.now(UTC)
    ours = await conn.create("P1", {"title": "ours"})
    paged = {"title": "paged", "user": pd_helpers.FROM}
    theirs = await ui(pd, "POST", "/_sandbox/incidents", paged)
    before = len(pd.api_requests("/incidents"))
    recent = {r.external_id: r for r in await conn.recent(mark)}
    assert set(recent) == {ours.external_id, theirs["id"]}
    assert recent[theirs["id"]].platform_incident_id is None
    assert len(pd.api_requests("/incidents")) - before == 1  # one page lists both, no notes
    assert all(r.created_at is not None for r in recent.values())
    assert [r.external_id for r in await conn.changed_since(mark)] == [ours.external_id]
    problems = [p for r in pd.requests for p in spec(PD_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


async def test_datadog_lists_recent_incidents_with_or_without_the_correlation() -> None:
    async with running(lambda hook: datadog_app(DatadogConfig(webhook_url=hook))) as h:
        conn = DatadogConnector(
            IntegrationConfig.model_validate({
                "id": "prod-dd", "type": "datadog", "base_url": h.url,
                "api_key": "sandbox-dd-api-key", "password": "sandbox-dd-app-key"})
        )  # fmt: skip
        mark = datetime.now(UTC) - timedelta(seconds=1)
        ours = await conn.create("P1", {"title": "ours"})
        recent = {r.external_id: r for r in await conn.recent(mark)}
        assert ours.external_id in recent and recent[ours.external_id].created_at is not None
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert await conn.recent(later) == []
        await conn.aclose()
