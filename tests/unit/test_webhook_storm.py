"""The sandboxes' shared webhook storm: every webhook sent several times, each copy a distinct
delivery (new id, signed again) after its own delay, so copies arrive late and out of order."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.sandbox.incidentio.app import build_app as build_incidentio
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.sandbox.jira.app import build_app as build_jira
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.storm import WebhookStorm
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.sandbox_harness import Harness, running
from tests.unit.connectors.stub_server import Seen

STORM = {"copies": 2, "min_delay_s": 0.0, "max_delay_s": 0.6, "seed": 7}


async def arrivals(harness: Harness, count: int) -> list[Seen]:
    async with asyncio.timeout(10):
        while len(harness.webhooks()) < count:  # noqa: ASYNC110 - the stub has no event to wait on
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # nothing more may come
    return harness.webhooks()


async def test_a_storm_sends_each_jira_webhook_twice_as_distinct_signed_deliveries() -> None:
    secret = "jira-storm-secret"
    connector = JiraConnector(
        IntegrationConfig(
            id="prod-jira",
            type="jira",
            base_url="http://unused",
            webhook_secret=secret,
            options={"webhook_auth": "hmac"},
        )
    )

    def build(url: str) -> web.Application:
        return build_jira(JiraConfig(webhook_url=url, webhook_secret=secret))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as ui:
        answer = await ui.post("/_sandbox/faults", json={"webhook_storm": STORM})
        assert answer.status_code == 200 and answer.json()["webhook_storm"]["copies"] == 2
        issue = (await ui.post("/_sandbox/issues", json={"summary": "Storm"})).json()
        for n in range(4):
            await ui.post(f"/_sandbox/issues/{issue['key']}/edit", json={"summary": f"S{n}"})
        seen = await arrivals(harness, 10)
        stats = (await ui.get("/_sandbox/stats")).json()

    assert len(seen) == 10 and stats["webhooks_sent"] == 10  # 5 changes, each twice
    ids = [s.headers["X-Atlassian-Webhook-Identifier"] for s in seen]
    assert len(set(ids)) == 10, "every copy is a distinct delivery"
    for s in seen:  # each copy signed for its own bytes
        connector.verify(httpx.Headers(s.headers), s.body)
    bodies = Counter(s.body for s in seen)
    assert sorted(bodies.values()) == [2] * 5
    # out of order: the summaries do not arrive in the order they were set
    order = [orjson.loads(s.body)["issue"]["fields"]["summary"] for s in seen]
    firsts = list(dict.fromkeys(order))
    assert firsts != ["Storm", "S0", "S1", "S2", "S3"], order


async def test_a_storm_resigns_incidentio_copies_under_new_message_ids() -> None:
    config = IncidentioConfig()
    connector = IncidentIoConnector(
        IntegrationConfig(
            id="incidentio",
            type="incidentio",
            base_url="http://unused",
            webhook_secret=config.signing_secret,
        )
    )

    def build(url: str) -> web.Application:
        return build_incidentio(IncidentioConfig(webhook_url=url))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as ui:
        storm = {**STORM, "fresh_ids": True}
        assert (await ui.post("/_sandbox/faults", json={"webhook_storm": storm})).is_success
        await ui.post("/_sandbox/incidents", json={"name": "Storm", "summary": "s"})
        seen = await arrivals(harness, 2)
    assert len({s.headers["webhook-id"] for s in seen}) == 2
    assert seen[0].body == seen[1].body
    for s in seen:
        connector.verify(httpx.Headers(s.headers), s.body)


async def test_without_fresh_ids_the_copies_are_retries_of_one_delivery() -> None:
    def build(url: str) -> web.Application:
        return build_jira(JiraConfig(webhook_url=url))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as ui:
        storm = {"copies": 3, "max_delay_s": 0.2, "fresh_ids": False}
        assert (await ui.post("/_sandbox/faults", json={"webhook_storm": storm})).is_success
        await ui.post("/_sandbox/issues", json={"summary": "Retries"})
        seen = await arrivals(harness, 3)
        # switched off again: one delivery per change, at once
        assert (await ui.post("/_sandbox/faults", json={"webhook_storm": None})).is_success
        await ui.post("/_sandbox/issues", json={"summary": "Calm"})
        seen = await arrivals(harness, 4)
    assert len({s.headers["X-Atlassian-Webhook-Identifier"] for s in seen[:3]}) == 1
    assert len(seen) == 4


@pytest.mark.parametrize(
    "spec",
    [
        "loud",
        {"copies": 0},
        {"copies": 11},
        {"min_delay_s": 2, "max_delay_s": 1},
        {"fresh_ids": "yes"},
        {"echo": 1},
    ],
)
async def test_a_bad_storm_is_refused_with_a_reason(spec: object) -> None:
    with pytest.raises(ValueError):
        WebhookStorm.parse(spec)

    def build(url: str) -> web.Application:
        return build_jira(JiraConfig(webhook_url=url))

    async with running(build) as harness, httpx.AsyncClient(base_url=harness.url) as ui:
        answer = await ui.post("/_sandbox/faults", json={"webhook_storm": spec})
    assert answer.status_code == 400 and answer.json()["error"]
