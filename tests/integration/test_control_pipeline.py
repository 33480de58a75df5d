"""The pipeline follows the control API: the whole local system (devstack's Stack: broker,
redis-server, sandboxes, control service, ingress and worker reading CONFIG_SOURCE=control),
changed only through /api/v1 while it runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.connectors.servicenow import signature as snow_sig
from incident_sync.devstack.stack import SN_PASSWORD, SN_USER, Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration

T = "/api/v1/tenants/default"
RELOAD_WAIT_S = 2.0  # CONFIG_RELOAD_S is 0.5 in the Stack


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


@pytest.fixture(scope="module")
def api(env: tuple[Stack, Tools]) -> Iterator[httpx.Client]:
    stack = env[0]
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.url("control"), headers=headers, timeout=10.0) as client:
        yield client


def post_snow_webhook(stack: Stack, integration: str, secret: str) -> int:
    body = orjson.dumps({"sys_id": "0" * 32, "table": "incident", "fields": {}})
    r = httpx.post(
        f"{stack.url('ingress')}/webhooks/{integration}",
        content=body,
        headers={"Content-Type": "application/json", snow_sig.HEADER: snow_sig.sign(secret, body)},
        timeout=10.0,
    )
    return r.status_code


def status(api: httpx.Client, name: str) -> dict[str, Any]:
    r = api.get(f"{T}/integrations/{name}/status")
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


def test_the_seeded_config_syncs_and_counts(env: tuple[Stack, Tools], api: httpx.Client) -> None:
    _, tools = env
    listed = api.get(f"{T}/integrations").json()["items"]
    assert [i["name"] for i in listed] == ["prod-snow"]  # imported from the sides file
    incident = tools.declare("Counted outage", "one create")
    records = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    wait_for(lambda: status(api, "prod-snow")["counters"]["outbound_success"] >= 1, 10)
    tools.edit_snow(records[0]["sys_id"], short_description="Counted outage (renamed)")
    wait_for(lambda: status(api, "prod-snow")["counters"]["inbound_success"] >= 1, 30)
    s = status(api, "prod-snow")
    assert s["last_outbound_at"] and s["last_inbound_at"]
    assert s["counters"]["outbound_failed"] == 0


def test_a_direction_changed_through_the_api_reaches_the_worker(
    env: tuple[Stack, Tools], api: httpx.Client
) -> None:
    _, tools = env
    r = api.patch(f"{T}/integrations/prod-snow", json={"direction": "inbound"})
    assert r.status_code == 200
    time.sleep(RELOAD_WAIT_S)
    try:
        quiet = tools.declare("Not for ServiceNow", "inbound only")
        time.sleep(4.0)
        assert tools.snow_records_for(quiet["id"]) == []
    finally:
        api.patch(f"{T}/integrations/prod-snow", json={"direction": "bidirectional"})
    time.sleep(RELOAD_WAIT_S)
    loud = tools.declare("For ServiceNow again", "bidirectional")
    wait_for(lambda: tools.snow_records_for(loud["id"]), 30, "the ticket after the change back")
    paused = api.post(f"{T}/integrations/prod-snow/pause").json()
    assert paused["paused"] is True
    api.post(f"{T}/integrations/prod-snow/resume").raise_for_status()


def test_integrations_created_through_the_api_are_picked_up(
    env: tuple[Stack, Tools], api: httpx.Client
) -> None:
    stack, tools = env
    # A second ServiceNow instance, created while everything runs: its webhooks are taken.
    assert post_snow_webhook(stack, "snow-east", "east-secret") == 404
    created = api.post(
        f"{T}/integrations",
        json={"name": "snow-east", "type": "servicenow", "base_url": stack.url("servicenow"),
              "username": SN_USER, "password": SN_PASSWORD, "webhook_secret": "east-secret",
              "direction": "inbound"},
    )  # fmt: skip
    assert created.status_code == 201
    # Signature checked with the secret it was given (sealed in Redis, opened by the ingress).
    wait_for(lambda: post_snow_webhook(stack, "snow-east", "east-secret") != 404, 10, "reload")
    assert post_snow_webhook(stack, "snow-east", "east-secret") not in (401, 404)
    assert post_snow_webhook(stack, "snow-east", "wrong-secret") == 401
    api.delete(f"{T}/integrations/snow-east").raise_for_status()
    wait_for(lambda: post_snow_webhook(stack, "snow-east", "east-secret") == 404, 10, "removal")

    # prod-snow deleted and created again through the API, credentials and all: the worker
    # writes to ServiceNow with the password it opened from the store.
    view = api.get(f"{T}/integrations/prod-snow").json()
    api.delete(f"{T}/integrations/prod-snow").raise_for_status()
    keep = ("type", "base_url", "username", "actor", "direction", "field_map")
    spec = {k: v for k, v in view.items() if k in keep}
    recreated = api.post(
        f"{T}/integrations",
        json={"name": "prod-snow", **spec, "password": SN_PASSWORD,
              "webhook_secret": stack.servicenow_secret},
    )  # fmt: skip
    assert recreated.status_code == 201
    time.sleep(RELOAD_WAIT_S)
    incident = tools.declare("After re-creation", "through the API")
    wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
