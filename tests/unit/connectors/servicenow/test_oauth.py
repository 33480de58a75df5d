"""ServiceNow OAuth against a stub token endpoint: password grant, refresh on 401 and before
expiry, fallback to the password grant, and bad credentials."""

from __future__ import annotations

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.servicenow.auth import ServiceNowOAuth
from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.servicenow.helpers import INCIDENT, SYS_ID, config, note_reply
from tests.unit.connectors.stub_server import Reply, Seen, Stub


def token(access: str, refresh: str = "r1", expires_in: int = 1800) -> Reply:
    return (
        200,
        {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": expires_in,
        },
    )


def oauth_config(url: str) -> IntegrationConfig:
    return config(url, oauth_client_id="cid", oauth_client_secret="csecret")


async def test_oauth_token_fetched_once_and_used(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID, "sys_mod_count": "1"}}))
    stub.on("GET", "/api/now/table/sys_journal_field", note_reply(None))
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        await conn.fetch(SYS_ID)
        await conn.fetch(SYS_ID)
    finally:
        await conn.aclose()
    (grant,) = stub.calls("POST", "/oauth_token.do")
    assert grant.form() == {
        "grant_type": "password",
        "client_id": "cid",
        "client_secret": "csecret",
        "username": "incident.sync",
        "password": "pw",
    }
    api = [s for s in stub.seen if s.path != "/oauth_token.do"]
    assert len(api) == 4
    assert all(s.headers["Authorization"] == "Bearer t1" for s in api)


async def test_oauth_401_refreshes_once_and_retries(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"), token("t2"))

    def by_token(seen: Seen) -> Reply:
        if seen.headers["Authorization"] == "Bearer t2":
            return (200, {"result": {"sys_id": SYS_ID}})
        return (401, {"error": {"message": "User Not Authenticated"}, "status": "failure"})

    stub.on("GET", INCIDENT, by_token)
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        record = await conn.client.get_incident(SYS_ID)
    finally:
        await conn.aclose()
    assert record["sys_id"] == SYS_ID
    grants = stub.calls("POST", "/oauth_token.do")
    assert [g.form()["grant_type"] for g in grants] == ["password", "refresh_token"]
    assert grants[1].form()["refresh_token"] == "r1"
    assert [s.headers["Authorization"] for s in stub.calls("GET", INCIDENT)] == [
        "Bearer t1",
        "Bearer t2",
    ]


async def test_oauth_persistent_401_is_not_retried_forever(stub: Stub) -> None:
    stub.on("POST", "/oauth_token.do", token("t1"), token("t2"))
    stub.on("GET", INCIDENT, (401, {"error": {"message": "User Not Authenticated"}}))
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        with pytest.raises(ToolError) as info:
            await conn.client.get_incident(SYS_ID)
    finally:
        await conn.aclose()
    assert info.value.status == 401
    assert info.value.retryable is False
    assert len(stub.calls("GET", INCIDENT)) == 2


async def test_oauth_renews_before_expiry(stub: Stub) -> None:
    now = [1000.0]
    stub.on("POST", "/oauth_token.do", token("t1", expires_in=600), token("t2"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    auth = ServiceNowOAuth(
        stub.url,
        client_id="cid",
        client_secret="cs",
        username="u",
        password="p",
        clock=lambda: now[0],
    )
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(
            http, integration="prod-snow", base_url=stub.url, auth=auth, timeout_s=5
        )
        await client.get_incident(SYS_ID)
        now[0] += 500  # inside the token's life
        await client.get_incident(SYS_ID)
        now[0] += 50  # within the renewal margin (60 s) of expiry
        await client.get_incident(SYS_ID)
    assert [s.headers["Authorization"] for s in stub.calls("GET", INCIDENT)] == [
        "Bearer t1",
        "Bearer t1",
        "Bearer t2",
    ]
    assert [g.form()["grant_type"] for g in stub.calls("POST", "/oauth_token.do")] == [
        "password",
        "refresh_token",
    ]


async def test_oauth_refused_refresh_falls_back_to_password(stub: Stub) -> None:
    now = [0.0]
    refused = (401, {"error": "access_denied", "error_description": "refresh token expired"})
    stub.on("POST", "/oauth_token.do", token("t1", expires_in=100), refused, token("t3"))
    stub.on("GET", INCIDENT, (200, {"result": {"sys_id": SYS_ID}}))
    auth = ServiceNowOAuth(
        stub.url,
        client_id="c",
        client_secret="s",
        username="u",
        password="p",
        clock=lambda: now[0],
    )
    async with httpx.AsyncClient() as http:
        client = ServiceNowClient(
            http, integration="prod-snow", base_url=stub.url, auth=auth, timeout_s=5
        )
        await client.get_incident(SYS_ID)
        now[0] += 1000
        await client.get_incident(SYS_ID)
    grants = [g.form()["grant_type"] for g in stub.calls("POST", "/oauth_token.do")]
    assert grants == ["password", "refresh_token", "password"]
    assert stub.calls("GET", INCIDENT)[-1].headers["Authorization"] == "Bearer t3"


async def test_oauth_bad_credentials_is_a_tool_error(stub: Stub) -> None:
    stub.on(
        "POST", "/oauth_token.do", (401, {"error": "access_denied", "error_description": "bad"})
    )
    conn = ServiceNowConnector(oauth_config(stub.url))
    try:
        with pytest.raises(ToolError, match="access_denied: bad") as info:
            await conn.test_connection()
    finally:
        await conn.aclose()
    assert info.value.retryable is False
    assert stub.calls("GET", "/api/now/table/incident") == []
