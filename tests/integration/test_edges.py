"""Trust at the edges, on the real stack: signed incident.io webhooks to the real ingress.

- the message limit: a change of exactly `sizes.event_limit` bytes travels gate, arbiter and
  delivery and arrives in the ServiceNow sandbox; one byte more is 413 with a JSON reason.
  The stack runs with a 4 MiB limit, so that the later messages (about 2.75 MB) also pass
  faust's own defaults (1,000,000 bytes) only because every stage shares the limit;
- signed is not well-formed: `summary: {"x": 1}` and a 200 KB id are 422 naming the field,
  and nothing reaches ServiceNow;
- safe defaults: an ingress without SYNC_API_TOKEN refuses its /sync routes (403) unless
  SYNC_API_OPEN; a Jira integration with default options refuses a Connect JWT without
  X-Hub-Signature.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.incidentio import signature as svix
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.jira import signature as jira_sig
from incident_sync.devstack import processes
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel import codec, sizes
from incident_sync.syncmodel.config import IntegrationConfig
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration

MAX_MESSAGE = 4 * 1024 * 1024
CREATED = "public_incident.incident_created_v2"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Stack, Tools]]:
    env = {"KAFKA_MAX_MESSAGE_BYTES": str(MAX_MESSAGE), "MAX_BODY_BYTES": str(MAX_MESSAGE)}
    # An instance whose description column takes the whole change (ServiceNow enforces no
    # length on columns over 255 characters): what arrives shows the message carried it all.
    lengths = {"options": {"column_lengths": f"description={MAX_MESSAGE}"}}
    yield from start_stack(extra_env=env, overrides={"prod-snow": lengths})


def _incident(incident_id: str, **fields: Any) -> dict[str, Any]:
    incident = {
        "id": incident_id,
        "reference": "INC-77",
        "name": "Edge case",
        "summary": "short",
        "incident_status": {"category": "live", "name": "Investigating"},
        "updated_at": "2024-05-06T07:08:09.000000Z",
        **fields,
    }
    return {"event_type": CREATED, CREATED: incident}


def _signed(stack: Stack, body: bytes, msg_id: str) -> dict[str, str]:
    key = svix.decode_secret(stack.incidentio_secret)
    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": svix.sign(key, msg_id, stamp, body),
    }


def _post(stack: Stack, doc: dict[str, Any], msg_id: str | None = None) -> httpx.Response:
    body = orjson.dumps(doc)
    msg_id = msg_id or "msg_" + secrets.token_hex(12)
    return httpx.post(
        stack.url("ingress") + "/webhook",
        content=body,
        headers=_signed(stack, body, msg_id),
        timeout=30.0,
    )


def _event_size(doc: dict[str, Any], msg_id: str) -> int:
    """The change as the ingress encodes it for sync.inbound (same parser, same ids)."""
    platform = IntegrationConfig(id="incidentio", type="incidentio", base_url="http://x")
    headers = httpx.Headers({"webhook-id": msg_id})
    (event,) = IncidentIoConnector(platform).parse(headers, orjson.dumps(doc))
    return len(codec.encode(event))


def _new_incident_id() -> str:
    return "01HEDGE" + secrets.token_hex(8).upper()


def test_a_change_at_the_message_limit_arrives_and_one_byte_more_is_413(
    stack: tuple[Stack, Tools],
) -> None:
    st, tools = stack
    limit = sizes.event_limit(MAX_MESSAGE)
    incident_id = _new_incident_id()
    msg_id = "msg_" + "a" * 24
    filler = _event_size(_incident(incident_id, summary=""), msg_id)
    summary = "S" * (limit - filler)
    doc = _incident(incident_id, summary=summary)
    assert _event_size(doc, msg_id) == limit

    resp = _post(st, doc, msg_id)
    assert resp.status_code == 202, resp.text
    records = wait_for(
        lambda: [r for r in tools.snow_records_for(incident_id) if r["description"] == summary],
        timeout_s=90,
        what="the ServiceNow ticket with the whole description",
    )
    assert len(records) == 1

    over_id = _new_incident_id()
    over = _incident(over_id, summary=summary + "S")
    resp = _post(st, over, "msg_" + "b" * 24)
    assert resp.status_code == 413
    answer = resp.json()
    assert answer["error"] == "too_large"
    assert f"would be {limit + 1} bytes" in answer["reason"]
    assert f"KAFKA_MAX_MESSAGE_BYTES ({MAX_MESSAGE})" in answer["reason"]
    assert tools.snow_records_for(over_id) == []


def test_signed_but_malformed_deliveries_are_422_naming_the_field(
    stack: tuple[Stack, Tools],
) -> None:
    st, tools = stack
    wrong = _new_incident_id()
    resp = _post(st, _incident(wrong, summary={"x": 1}))
    assert resp.status_code == 422
    assert resp.json()["reason"] == "incident.summary: expected a string"

    resp = _post(st, _incident("a" * 200_000))
    assert resp.status_code == 422
    assert resp.json()["reason"].startswith("incident.id: id longer than 128 characters")

    # A delivery made after them arrives: had the refused ones been published, they would
    # have reached ServiceNow by then too (their keys may take other partitions, so the
    # check below also waits out the pipeline's own latency).
    good = _new_incident_id()
    assert _post(st, _incident(good, summary="fine")).status_code == 202
    wait_for(lambda: tools.snow_records_for(good), timeout_s=60, what="the good delivery")
    assert tools.snow_records_for(wrong) == []


def _sides_with_default_jira(st: Stack, path: Path, secret: str) -> None:
    sides = orjson.loads(st.config_path.read_bytes())
    sides["integrations"] = [
        {
            "id": "prod-jira",
            "type": "jira",
            "base_url": "http://127.0.0.1:9",
            "username": "sync@example.com",
            "api_key": "unused",
            "webhook_secret": secret,
            "options": {"project_key": "OPS"},  # webhook_auth left at its default
        }
    ]
    path.write_bytes(orjson.dumps(sides))


@pytest.fixture(scope="module")
def other_ingresses(stack: tuple[Stack, Tools]) -> Iterator[dict[str, tuple[str, str]]]:
    """Two more real ingresses on the stack's broker and Redis, from a sides file with a
    Jira integration of default options: one without SYNC_API_TOKEN, one with
    SYNC_API_OPEN. Name -> (URL, the Jira webhook secret)."""
    st, _ = stack
    secret = secrets.token_urlsafe(32)
    sides = st.workdir / "edges-sides.json"
    _sides_with_default_jira(st, sides, secret)
    children: dict[str, processes.Child] = {}
    try:
        for name, extra in (("closed", {}), ("open", {"SYNC_API_OPEN": "true"})):
            port = processes.free_port()
            env = {**st.service_env("ingress"), "HTTP_PORT": str(port), **extra}
            env.update(CONFIG_SOURCE="file", INCIDENT_SYNC_CONFIG=str(sides), SYNC_API_TOKEN="")
            child = processes.python_module(
                f"ingress-{name}", "incident_sync.ingress", port=port, env=env
            )
            child.log_path = st.workdir / f"ingress-{name}.log"
            children[name] = child.start()
            url = f"http://127.0.0.1:{port}"
            wait_for(
                lambda u=url: httpx.get(u + "/ready").status_code == 200,  # type: ignore[misc]
                timeout_s=30,
                what=f"ingress-{name} ready",
            )
        yield {name: (f"http://127.0.0.1:{c.port}", secret) for name, c in children.items()}
    finally:
        for child in children.values():
            child.stop()


def test_sync_routes_are_closed_without_a_token_and_open_only_when_asked(
    stack: tuple[Stack, Tools], other_ingresses: dict[str, tuple[str, str]]
) -> None:
    _, tools = stack
    incident = tools.declare("Sync routes", "open only when asked")["id"]
    closed, _ = other_ingresses["closed"]
    for path in (f"/sync/incident/{incident}", "/sync/prod-jira/10001"):
        resp = httpx.post(closed + path)
        assert resp.status_code == 403
        assert resp.json()["error"] == "forbidden" and "SYNC_API_TOKEN" in resp.json()["reason"]
    opened, _ = other_ingresses["open"]
    resp = httpx.post(opened + f"/sync/incident/{incident}")  # a record the platform has
    assert resp.status_code == 202 and resp.json()["status"] == "accepted"


def test_jira_refuses_a_connect_jwt_unless_the_option_asks_for_it(
    other_ingresses: dict[str, tuple[str, str]],
) -> None:
    url, secret = other_ingresses["closed"]
    body = orjson.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": "1"}})
    now = int(time.time())
    claims = {
        "iss": "jira:1",
        "iat": now,
        "exp": now + 120,
        "qsh": jira_sig.query_string_hash("POST", "/webhooks/prod-jira"),
    }
    jwt_only = {
        "Content-Type": "application/json",
        "Authorization": "JWT " + jira_sig.jwt_encode(claims, secret),
    }
    resp = httpx.post(url + "/webhooks/prod-jira", content=body, headers=jwt_only)
    assert resp.status_code == 401
    assert "X-Hub-Signature" in resp.json()["reason"]
    unsigned = {"Content-Type": "application/json"}
    assert (
        httpx.post(url + "/webhooks/prod-jira", content=body, headers=unsigned).status_code == 401
    )
    signed = {**unsigned, "X-Hub-Signature": jira_sig.hub_sign(secret, body)}
    resp = httpx.post(url + "/webhooks/prod-jira", content=body, headers=signed)
    assert resp.status_code != 401, resp.text  # past the signature (the body is not synced)
