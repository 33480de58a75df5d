"""The connectors' batch reads (`fetch_many`) and change listings (`changed_since`) against
each tool's sandbox over HTTP: the wanted records, the same as one `fetch` each, a missing one
left out, in far fewer requests than one per record; every request valid for the vendor's
spec where one is published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from incident_sync.connectors.base import Connector
from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.sandbox.datadog.app import DatadogConfig
from incident_sync.sandbox.datadog.app import build_app as datadog_app
from incident_sync.sandbox.incidentio.app import build_app as incidentio_app
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.sandbox.jira.app import build_app as jira_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.pagerduty.app import build_app as pagerduty_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.servicenow.app import build_app as servicenow_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.jira import helpers as jira_helpers
from tests.unit.connectors.openapi import spec
from tests.unit.connectors.pagerduty import helpers as pd_helpers
from tests.unit.connectors.sandbox_harness import Harness, running

N = 12  # records per tool: more than one batch where the batch is small below


async def ui(h: Harness, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    async with httpx.AsyncClient(base_url=h.url, **kw) as client:
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None


async def check(
    h: Harness,
    connector: Connector,
    ids: list[str],
    *,
    gone: str,
    prefix: str,
    most_requests: int,
) -> None:
    """fetch_many == fetch for each; an unknown id is left out; few requests."""
    singles = {i: await connector.fetch(i) for i in ids}
    before = len(h.api_requests(prefix))
    many = await connector.fetch_many([*ids, gone])
    used = len(h.api_requests(prefix)) - before
    assert set(many) == set(ids)
    for i in ids:
        assert many[i].fields == singles[i].fields, i
        assert many[i].version == singles[i].version
        assert many[i].platform_incident_id == singles[i].platform_incident_id
        assert many[i].updated_at is not None and many[i].updated_at == singles[i].updated_at
    assert used <= most_requests, f"{used} requests for {len(ids)} records"


# -- ServiceNow ------------------------------------------------------------------------------
SN_USER, SN_PASSWORD = "incident-sync", "secret"


@pytest.fixture
async def sn() -> AsyncIterator[Harness]:
    async with running(lambda hook: servicenow_app(ServiceNowConfig(webhook_url=hook))) as h:
        yield h


async def test_servicenow_reads_by_sys_id_in_batches_with_the_work_notes(
    sn: Harness,
) -> None:
    conn = ServiceNowConnector(
        IntegrationConfig.model_validate({"id": "prod-snow", "type": "servicenow",
            "base_url": sn.url, "username": SN_USER, "password": SN_PASSWORD})
    )  # fmt: skip
    conn.batch_size = 5
    ids = []
    for n in range(N):
        body = {"short_description": f"T{n}", "u_incident_io_id": f"P{n}", "user": "john.smith"}
        created = await ui(sn, "POST", "/_sandbox/table/incident", body)
        sys_id = created["result"]["sys_id"]
        ids.append(sys_id)
        await ui(sn, "PATCH", f"/_sandbox/table/incident/{sys_id}", {"work_notes": f"n{n}"})
    await check(sn, conn, ids, gone="f" * 32, prefix="/api/now", most_requests=6)
    many = await conn.fetch_many(ids)
    assert [many[i].fields["comment"] for i in ids] == [f"n{n}" for n in range(N)]
    assert "comment" not in (await conn.fetch_many(ids[:1], comments=False))[ids[0]].fields
    # Changed since: only the records touched after the mark, linked ones only.
    await asyncio.sleep(1.1)  # glide times have whole seconds
    mark = datetime.now(UTC)
    await ui(sn, "PATCH", f"/_sandbox/table/incident/{ids[4]}", {"short_description": "again"})
    await ui(sn, "POST", "/_sandbox/table/incident", {"short_description": "not linked"})
    changed = await conn.changed_since(mark)
    assert [r.external_id for r in changed] == [ids[4]]
    assert changed[0].fields["title"] == "again" and changed[0].fields["comment"] == "n4"
    await conn.aclose()


# -- incident.io -----------------------------------------------------------------------------
@pytest.fixture
async def io() -> AsyncIterator[Harness]:
    async with running(lambda hook: incidentio_app(IncidentioConfig(webhook_url=hook))) as h:
        yield h


async def test_incidentio_lists_when_that_is_cheaper_and_reads_one_by_one_otherwise(
    io: Harness,
) -> None:
    conn = IncidentIoConnector(
        IntegrationConfig.model_validate({"id": "incidentio", "type": "incidentio",
            "base_url": io.url, "api_key": "sandbox-api-key"})
    )  # fmt: skip
    conn.list_page_size = 5
    ids = [
        (await ui(io, "POST", "/_sandbox/incidents", {"name": f"I{n}", "summary": "s"}))[
            "incident"
        ]["id"]
        for n in range(N)
    ]
    # Every incident is wanted: three pages list them all (and one read the unknown id).
    await check(io, conn, ids, gone="01ZZZZZZZZZZZZZZZZZZZZZZZZ", prefix="/v2/incidents",
                most_requests=4)  # fmt: skip
    # One of many: listing would cost more than reading it.
    before = len(io.api_requests("/v2/incidents"))
    assert set(await conn.fetch_many(ids[:1])) == {ids[0]}
    assert len(io.api_requests("/v2/incidents")) - before == 2  # the first page, one show
    mark = datetime.now(UTC)
    await ui(io, "POST", f"/_sandbox/incidents/{ids[2]}/edit", {"name": "renamed"})
    changed = await conn.changed_since(mark)
    assert [(r.external_id, r.fields["title"]) for r in changed] == [(ids[2], "renamed")]
    assert io.api_requests("/v2/incidents")[-1].query["updated_at[gte]"] == str(mark.date())
    problems = [p for r in io.api_requests("/v2/") for p in spec(IO_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


IO_SPEC = "incidentio-openapi-v3-public-schema-including-secret-endpoints.json"


# -- Jira -------------------------------------------------------------------------------------
@pytest.fixture
async def jira_sandbox() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        users = ((jira_helpers.API_EMAIL, jira_helpers.API_TOKEN),)
        return jira_app(JiraConfig(api_users=users, webhook_url=hook, webhook_backoff_s=(0.05,)))

    async with running(build) as h:
        yield h


async def test_jira_reads_with_id_in_and_lists_recent_updates(jira_sandbox: Harness) -> None:
    h = jira_sandbox
    conn = JiraConnector(jira_helpers.config(h.url))
    conn.batch_size = 5
    ids = [(await conn.create(f"P{n}", {"title": f"T{n}"})).external_id for n in range(N)]
    await check(h, conn, ids, gone="99999", prefix="/rest/api/3/search", most_requests=3)
    mark = datetime.now(UTC)
    await conn.update(ids[1], {"title": "renamed"})
    changed = await conn.changed_since(mark - timedelta(seconds=30))
    assert ids[1] in {r.external_id for r in changed}
    assert all(r.platform_incident_id for r in changed)
    assert 'updated >= "-1m"' in h.api_requests("/rest/api/3/search")[-1].query["jql"]
    problems = [p for r in h.api_requests("/rest/") for p in spec(JIRA_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


JIRA_SPEC = "jira-cloud-platform-swagger-v3.v3.json"


# -- PagerDuty --------------------------------------------------------------------------------
@pytest.fixture
async def pd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        helpers = pd_helpers
        return pagerduty_app(
            PagerDutyConfig(api_token=helpers.TOKEN, api_user=helpers.FROM, webhook_url=hook,
                            webhook_secret=helpers.SECRET, webhook_backoff_s=(0.05,))
        )  # fmt: skip

    async with running(build) as h:
        yield h


async def test_pagerduty_lists_incidents_and_finds_changes_in_the_log(pd: Harness) -> None:
    conn = PagerDutyConnector(pd_helpers.config(pd.url))
    ids = [(await conn.create(f"P{n}", {"title": f"T{n}"})).external_id for n in range(N)]
    # One page of 100 lists all of them; the comment (notes) costs one request per record.
    await check(pd, conn, ids, gone="QNOPE", prefix="/incidents", most_requests=N + 2)
    before = len(pd.api_requests("/incidents"))
    await conn.fetch_many(ids, comments=False)
    assert len(pd.api_requests("/incidents")) - before == 1
    await asyncio.sleep(1.1)  # the log's times have whole seconds
    mark = datetime.now(UTC)
    await conn.add_comment(ids[5], "a note")
    changed = await conn.changed_since(mark)
    assert [(r.external_id, r.fields.get("comment")) for r in changed] == [(ids[5], "a note")]
    problems = [p for r in pd.requests for p in spec(PD_SPEC).problems(r)]
    assert problems == []
    await conn.aclose()


PD_SPEC = "pagerduty-rest-openapiv3.json"


# -- Datadog ----------------------------------------------------------------------------------
async def test_datadog_reads_one_by_one_and_lists_modified_incidents() -> None:
    def build(hook: str) -> web.Application:
        return datadog_app(DatadogConfig(webhook_url=hook))

    async with running(build) as h:
        conn = DatadogConnector(
            IntegrationConfig.model_validate({
                "id": "prod-dd", "type": "datadog", "base_url": h.url,
                "api_key": "sandbox-dd-api-key", "password": "sandbox-dd-app-key"})
        )  # fmt: skip
        ids = [(await conn.create(f"P{n}", {"title": f"T{n}"})).external_id for n in range(3)]
        await check(h, conn, ids, gone="0" * 8, prefix="/api/v2", most_requests=4)
        mark = datetime.now(UTC)
        await conn.update(ids[0], {"title": "renamed"})
        changed = await conn.changed_since(mark)
        assert [(r.external_id, r.fields["title"]) for r in changed] == [(ids[0], "renamed")]
        await conn.aclose()
