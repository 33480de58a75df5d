"""The comment tests' stack: a real redis-server (and, once more, a Redis Cluster: `redis_url`),
the Jira, Slack and ServiceNow sandboxes over HTTP, and a worker context on them (the gate, the
arbiter and delivery are driven directly).

Jira is configured without its `actor`, so nothing but the comment ids (and the fingerprint
of a write whose echo outran the map) can tell our copies from a person's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from incident_sync.outbound.context import Context, mappings_of
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.settings import Settings
from incident_sync.sandbox.jira.app import build_app as build_jira
from incident_sync.sandbox.servicenow.app import build_app as build_snow
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.sandbox.slack.app import build_app as build_slack
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncstate.client import connect
from tests.integration.comments.helpers import Sandboxes


@pytest.fixture
async def sandboxes() -> AsyncIterator[Sandboxes]:
    servers = [
        TestServer(app)
        for app in (
            build_jira(),
            build_slack(),
            build_snow(ServiceNowConfig(users={"incident-sync": "pw"})),
        )
    ]
    for server in servers:
        await server.start_server()
    yield Sandboxes(*(str(s.make_url("")).rstrip("/") for s in servers))
    for server in servers:
        await server.close()


@pytest.fixture
async def ctx(redis_url: str, sandboxes: Sandboxes) -> AsyncIterator[Context]:
    redis = connect(redis_url)
    await redis.flushdb()
    config = SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://unused"),
        integrations=(
            IntegrationConfig(
                id="prod-jira",
                type="jira",
                base_url=sandboxes.jira,
                username="incident-sync@example.com",
                api_key="sandbox-token",
                ownership={},
                options={"project_key": "OPS"},
            ),
            IntegrationConfig(
                id="ops-slack",
                type="slack",
                base_url=sandboxes.slack + "/api",
                api_key="xoxb-sandbox-token",
                options={"channel": "C0SANDBOX01"},
            ),
            IntegrationConfig(
                id="prod-snow",
                type="servicenow",
                base_url=sandboxes.snow,
                username="incident-sync",
                password="pw",
                actor="incident-sync",
                ownership={},
            ),
        ),
    )
    context = Context(
        settings=Settings(), config=config, store=StateStore(redis), mappings=mappings_of(config)
    )
    yield context
    await context.aclose()
