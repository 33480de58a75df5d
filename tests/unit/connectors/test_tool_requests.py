"""The tool clients' common base (connectors/http.py): every request to a tool is timed in
`incident_sync_tool_request_seconds{integration, method, code}` (here against the PagerDuty
sandbox over HTTP: answers, a 429, a timeout and a refused connection), and a 429 without
`Retry-After` waits for the vendor's own rate-limit reset header."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from incident_sync.connectors.base import RecordNotFound, ToolError
from incident_sync.connectors.datadog.client import DatadogClient
from incident_sync.connectors.datadog.client import auth as datadog_auth
from incident_sync.connectors.jira.client import JiraClient
from incident_sync.connectors.pagerduty.client import PagerDutyClient
from incident_sync.connectors.pagerduty.client import auth as pagerduty_auth
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from tests.unit.connectors.pagerduty.helpers import FROM, SECRET, TOKEN, config
from tests.unit.connectors.sandbox_harness import Harness, running
from tests.unit.connectors.stub_server import Stub, serve

METRIC = "incident_sync_tool_request_seconds"


def observed(integration: str, method: str, code: str) -> float:
    """How many requests the histogram holds for these labels."""
    value = REGISTRY.get_sample_value(
        f"{METRIC}_count", {"integration": integration, "method": method, "code": code}
    )
    return value or 0.0


def label_sets(integration: str) -> list[dict[str, str]]:
    """Every label set of the metric's samples for one integration."""
    return [
        sample.labels
        for family in REGISTRY.collect()
        if family.name == METRIC
        for sample in family.samples
        if sample.labels.get("integration") == integration and sample.name.endswith("_count")
    ]


@pytest.fixture
async def pd() -> AsyncIterator[Harness]:
    def build(hook: str) -> web.Application:
        return build_app(
            PagerDutyConfig(api_token=TOKEN, api_user=FROM, webhook_url=hook, webhook_secret=SECRET)
        )

    async with running(build) as harness:
        yield harness


async def sandbox_faults(pd: Harness, **body: object) -> None:
    async with httpx.AsyncClient(base_url=pd.url) as client:
        (await client.post("/_sandbox/faults", json=body)).raise_for_status()


def pagerduty(base_url: str, name: str, timeout_s: float = 5.0) -> PagerDutyConnector:
    # The integration's configured name is the label, not the tool type.
    cfg = config(base_url).model_copy(update={"id": name, "timeout_s": timeout_s})
    return PagerDutyConnector(cfg)


async def test_each_request_is_observed_by_integration_method_and_status(pd: Harness) -> None:
    name = "pd-metric-answers"
    connector = pagerduty(pd.url, name)
    try:
        await connector.test_connection()
        assert observed(name, "GET", "200") == 1
        with pytest.raises(RecordNotFound):
            await connector.fetch("QNOPE")
        assert observed(name, "GET", "404") == 1

        await sandbox_faults(pd, fail_status=429, fail_count=1, retry_after_s=3)
        with pytest.raises(ToolError) as caught:
            await connector.create("01HLIMIT", {"title": "t"})
        assert caught.value.status == 429 and caught.value.retry_after_s == 3.0
        assert observed(name, "POST", "429") == 1
    finally:
        await connector.aclose()
    # Only the three labels, with bounded values: never a URL, an id or a credential.
    labels = label_sets(name)
    assert labels and all(set(lb) == {"integration", "method", "code"} for lb in labels)
    assert {lb["code"] for lb in labels} == {"200", "404", "429"}
    assert not any(pd.url in v or "QNOPE" in v or TOKEN in v for lb in labels for v in lb.values())


async def test_a_timeout_is_observed_as_timeout(pd: Harness) -> None:
    name = "pd-metric-timeout"
    connector = pagerduty(pd.url, name, timeout_s=0.2)
    await sandbox_faults(pd, latency_s=1.0)  # every answer comes after the client gave up
    try:
        with pytest.raises(ToolError) as caught:
            await connector.test_connection()
        assert caught.value.retryable and caught.value.status is None
    finally:
        await sandbox_faults(pd, latency_s=0)
        await connector.aclose()
    assert observed(name, "GET", "timeout") == 1
    assert [lb["code"] for lb in label_sets(name)] == ["timeout"]


async def test_a_refused_connection_is_observed_as_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    name = "pd-metric-refused"
    connector = pagerduty(f"http://127.0.0.1:{port}", name)
    try:
        with pytest.raises(ToolError) as caught:
            await connector.test_connection()
        assert caught.value.retryable and caught.value.status is None
    finally:
        await connector.aclose()
    assert observed(name, "GET", "error") == 1
    assert [lb["code"] for lb in label_sets(name)] == ["error"]


def _jira_reset_in(seconds: int) -> str:
    # Atlassian's format: `yyyy-MM-ddTHH:mmZ` (minutes).
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%MZ")


def _pagerduty_call(http: httpx.AsyncClient, url: str) -> Awaitable[object]:
    auth = pagerduty_auth(TOKEN, FROM)
    client = PagerDutyClient(http, integration="pd-reset", base_url=url, auth=auth, timeout_s=5)
    return client.abilities()


def _datadog_call(http: httpx.AsyncClient, url: str) -> Awaitable[object]:
    auth = datadog_auth("k", "a")
    client = DatadogClient(http, integration="dd-reset", base_url=url, auth=auth, timeout_s=5)
    return client.get_incident("abc")


def _jira_call(http: httpx.AsyncClient, url: str) -> Awaitable[object]:
    auth = httpx.BasicAuth("u", "t")
    client = JiraClient(http, integration="jira-reset", base_url=url, auth=auth, timeout_s=5)
    return client.myself()


@pytest.mark.parametrize(
    ("call", "path", "header", "value", "low", "high"),
    [
        # PagerDuty documents no Retry-After: `ratelimit-reset` is seconds until the reset.
        (_pagerduty_call, "/abilities", "ratelimit-reset", lambda: "12", 12, 12),
        # Datadog: `X-RateLimit-Reset`, seconds.
        (_datadog_call, "/api/v2/incidents/abc", "X-RateLimit-Reset", lambda: "9", 9, 9),
        # Jira Cloud: `X-RateLimit-Reset` is an ISO 8601 time, to the minute.
        (
            _jira_call,
            "/rest/api/3/myself",
            "X-RateLimit-Reset",
            lambda: _jira_reset_in(300),
            239,
            300,
        ),
    ],
    ids=["pagerduty", "datadog", "jira"],
)
async def test_a_429_without_retry_after_waits_for_the_vendors_reset_header(
    call: Callable[[httpx.AsyncClient, str], Awaitable[object]],
    path: str,
    header: str,
    value: Callable[[], str],
    low: float,
    high: float,
) -> None:
    async with serve(Stub(not_found=(404, {}))) as stub, httpx.AsyncClient() as http:
        stub.on("GET", path, (429, {}, {header: value()}))
        with pytest.raises(ToolError) as caught:
            await call(http, stub.url)
    wait = caught.value.retry_after_s
    assert caught.value.status == 429 and caught.value.retryable
    assert wait is not None and low <= wait <= high


async def test_a_credential_http_cannot_carry_is_no_request_and_is_not_quoted() -> None:
    """A token with characters a header cannot hold: nothing is sent (`RequestNotSent`, which
    the control API answers as "cannot be asked" and the pipeline quarantines), and the
    reason does not quote the value."""
    from incident_sync.connectors.base import RequestNotSent
    from incident_sync.connectors.registry import make_connector
    from incident_sync.syncmodel.config import IntegrationConfig

    token = "xoxb-caf\u00e9-\u4e2d"
    connector = make_connector(
        IntegrationConfig.model_validate(
            {"id": "s", "type": "slack", "base_url": "http://127.0.0.1:9", "api_key": token}
        )
    )
    try:
        with pytest.raises(RequestNotSent) as caught:
            await connector.test_connection()
    finally:
        await connector.aclose()
    assert token not in str(caught.value) and "caf" not in str(caught.value)
