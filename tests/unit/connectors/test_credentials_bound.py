"""Credentials go to the configured host only, whatever the client or the answer: two real
HTTP servers, the tool and another host standing in for an attacker's, and the connectors'
own clients in between. Nothing the other host receives carries a credential."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.datadog.client import DatadogClient
from incident_sync.connectors.datadog.client import auth as datadog_auth
from incident_sync.connectors.servicenow.auth import ServiceNowOAuth
from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.connectors.transport import bound_auth, send
from tests.unit.connectors.servicenow.helpers import config
from tests.unit.connectors.stub_server import Stub, serve

PASSWORD = "pw-bound-to-the-tool"
API_KEY, APP_KEY = "dd-api-bound", "dd-app-bound"
NOT_FOUND = (404, {"error": "no such thing"})


@pytest.fixture
async def elsewhere() -> AsyncIterator[Stub]:
    """The other host: answers anything, records everything."""
    async with serve(Stub(not_found=(200, {"result": []}))) as stub:
        yield stub


@pytest.fixture
async def tool() -> AsyncIterator[Stub]:
    async with serve(Stub(not_found=NOT_FOUND)) as stub:
        yield stub


def carried_credentials(stub: Stub) -> list[str]:
    """Requests the stub received that carried any credential (header or body)."""
    found = []
    for seen in stub.seen:
        text = " ".join(f"{k}: {v}" for k, v in seen.headers.items()) + seen.body.decode()
        lowered = {k.lower() for k in seen.headers}
        if lowered & {"authorization", "dd-api-key", "dd-application-key"} or any(
            secret in text for secret in (PASSWORD, API_KEY, APP_KEY, "csecret")
        ):
            found.append(f"{seen.method} {seen.path}")
    return found


async def test_a_redirect_is_not_followed_even_by_a_client_made_to_follow(
    tool: Stub, elsewhere: Stub
) -> None:
    # Datadog's keys are custom headers: httpx drops Authorization on a cross-origin
    # redirect, but would carry these along.
    tool.on("GET", "/api/v2/incidents/abc", (302, b"", {"Location": f"{elsewhere.url}/steal"}))
    async with httpx.AsyncClient(follow_redirects=True) as http:
        client = DatadogClient(
            http,
            integration="prod-dd",
            auth=datadog_auth(API_KEY, APP_KEY),
            base_url=tool.url,
            timeout_s=5,
        )
        with pytest.raises(ToolError) as caught:
            await client.get_incident("abc")
    assert carried_credentials(elsewhere) == []
    assert elsewhere.seen == []
    assert "redirects are not followed" in str(caught.value)
    assert not caught.value.retryable
    assert tool.calls("GET", "/api/v2/incidents/abc")  # the tool itself was asked


async def test_bound_credentials_are_not_attached_for_another_origin(
    tool: Stub, elsewhere: Stub
) -> None:
    auth = bound_auth(httpx.BasicAuth("sync", PASSWORD), tool.url)
    async with httpx.AsyncClient() as http:
        with pytest.raises(ToolError) as caught:
            await send(http, "GET", f"{elsewhere.url}/api", error_message=str, auth=auth)
            raise AssertionError("sent")
    assert carried_credentials(elsewhere) == []
    assert elsewhere.seen == []
    assert "refused to send the credentials" in str(caught.value)
    assert not caught.value.retryable


async def test_an_oauth_token_request_for_another_origin_is_refused(
    tool: Stub, elsewhere: Stub
) -> None:
    """The token endpoint is the tool's own: a flow pointed elsewhere sends nothing there."""
    oauth = ServiceNowOAuth(
        elsewhere.url, client_id="cid", client_secret="csecret", username="u", password=PASSWORD
    )
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(
            http, integration="prod-snow", base_url=tool.url, auth=oauth, timeout_s=5
        )
        with pytest.raises(ToolError) as caught:
            await client.test_connection()
    assert carried_credentials(elsewhere) == []
    assert elsewhere.seen == []
    assert "refused to send the credentials" in str(caught.value)


async def test_the_connector_still_talks_to_its_own_host(tool: Stub) -> None:
    tool.on("GET", "/api/now/table/incident", (200, {"result": []}))
    connector = ServiceNowConnector(config(tool.url, password=PASSWORD))
    try:
        await connector.test_connection()
    finally:
        await connector.aclose()
    (call,) = tool.calls("GET", "/api/now/table/incident")
    assert call.headers["Authorization"].startswith("Basic ")
