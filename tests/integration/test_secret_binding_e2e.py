"""Secrets stay bound to their destination through every path that uses them, on the real
stack (broker, redis-server, sandboxes, ingress, worker, reconciler, control) with a real
HTTP server standing in for an attacker's host:

- an integration manager moving `prod-snow`'s base_url there is refused, so after the
  pipeline's config reload a new incident, a manual sync and a reconcile run all go to the
  ServiceNow sandbox and none reaches the other host;
- an address changed in Redis behind the API's back leaves the record's secrets sealed for
  the old one: the pipeline, the manual sync and the connection test send nothing anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from incident_sync.devstack.stack import SN_PASSWORD, Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncstate import keys
from tests.integration.conftest import im, start_stack
from tests.integration.hosts import Host, recording_host

pytestmark = pytest.mark.integration

API = "/api/v1/tenants/default"
RELOAD_S = 1.5  # the pipeline and the reconciler reload their config every 0.5 s


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


@pytest.fixture
def attacker() -> Iterator[Host]:
    with recording_host() as host:
        yield host


def manager(stack: Stack) -> httpx.Client:
    control = stack.url("control")
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    token = httpx.post(
        f"{control}/api/v1/tokens",
        json={"name": "mallory", "role": "integration.manager", "scope": {"tenants": ["default"]}},
        headers=admin,
        timeout=10,
    ).json()["token"]
    return httpx.Client(base_url=control, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def stolen(attacker: Host) -> list[str]:
    return attacker.credentials([SN_PASSWORD]) + attacker.credentials()


def gate_decisions(stack: Stack, decision: str) -> float:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "incident_sync_gate_events_total"
        and s.labels == {"integration": "prod-snow", "decision": decision}
    )


@contextmanager
def attempted_move(stack: Stack, attacker: Host) -> Iterator[httpx.Response]:
    """An integration manager points prod-snow at the other host, keeping the stored password;
    the pipeline has reloaded by the time the block runs. Put back afterwards if it went
    through (as it does without the binding), so the next test starts from the sandbox."""
    with manager(stack) as mallory:
        moved = mallory.patch(f"{API}/integrations/prod-snow", json={"base_url": attacker.url})
    time.sleep(RELOAD_S)
    try:
        yield moved
    finally:
        if moved.status_code == 200:
            back = ["--base-url", stack.url("servicenow"), "--secret", f"password={SN_PASSWORD}"]
            im(stack, "integration", "configure", "prod-snow", *back)
            time.sleep(RELOAD_S)


def test_after_a_refused_move_the_pipeline_writes_to_the_tool_only(
    env: tuple[Stack, Tools], attacker: Host
) -> None:
    stack, tools = env
    with attempted_move(stack, attacker) as moved:
        incident = tools.declare("Bound secrets", "the password stays home")
        wait_for(
            lambda: tools.snow_records_for(incident["id"]) or attacker.seen(), 30, "the create"
        )
        assert stolen(attacker) == []
        assert attacker.seen() == []
        assert tools.snow_records_for(incident["id"])
        assert moved.status_code == 409, moved.text
        assert "password" in moved.json()["reason"]


def test_after_a_refused_move_a_manual_sync_reads_the_tool_only(
    env: tuple[Stack, Tools], attacker: Host
) -> None:
    stack, tools = env
    incident = tools.declare("Bound secrets, manual sync", "the password stays home")
    (record,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    tools.drop_webhooks("servicenow", 1.0)  # an edit whose webhook is lost
    try:
        tools.edit_snow(record["sys_id"], short_description="Renamed in ServiceNow")
        tools.quiesce()
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    with attempted_move(stack, attacker) as moved:
        im(stack, "integration", "sync", "prod-snow", "--record", record["sys_id"])
        wait_for(
            lambda: (
                tools.incident(incident["id"])["name"] == "Renamed in ServiceNow" or attacker.seen()
            ),
            30,
            "the manual sync",
        )
        assert stolen(attacker) == []
        assert attacker.seen() == []
        assert moved.status_code == 409, moved.text


def test_after_a_refused_move_the_reconciler_reads_the_tool_only(
    env: tuple[Stack, Tools], attacker: Host
) -> None:
    stack, tools = env
    incident = tools.declare("Bound secrets, reconciled", "the password stays home")
    wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    with attempted_move(stack, attacker) as moved:
        run = im(stack, "integration", "reconcile", "prod-snow", "--dry-run")
        assert stolen(attacker) == []
        assert attacker.seen() == []
        assert run["status"] == "succeeded" and run["links"] >= 1, run
        assert moved.status_code == 409, moved.text


def test_an_address_changed_in_redis_sends_the_secrets_nowhere(
    env: tuple[Stack, Tools], attacker: Host
) -> None:
    stack, tools = env
    incident = tools.declare("Tampered address", "behind the API's back")
    (record,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    redis = Redis.from_url(stack.redis_url)
    key = keys.integrations("default")
    original: bytes = redis.hget(key, "prod-snow")  # type: ignore[assignment]
    tampered = orjson.loads(original)
    tampered["config"]["base_url"] = attacker.url
    try:
        redis.hset(key, "prod-snow", orjson.dumps(tampered))
        redis.incr(keys.version("default"))  # the running services reload
        time.sleep(RELOAD_S)

        # the pipeline, through a manual sync of every linked record: the worker no longer
        # has prod-snow at all
        before = gate_decisions(stack, "unknown_integration")
        im(stack, "integration", "sync", "prod-snow")
        wait_for(
            lambda: gate_decisions(stack, "unknown_integration") > before or attacker.seen(),
            30,
            "the manual sync",
        )
        assert stolen(attacker) == []
        # a manual sync of one record, which the control service reads first: refused
        im(stack, "integration", "sync", "prod-snow", "--record", record["sys_id"], code=5)
        assert stolen(attacker) == []

        # the connection test
        with manager(stack) as mallory:
            result: dict[str, Any] = mallory.post(f"{API}/integrations/prod-snow/test").json()
        assert stolen(attacker) == []
        assert attacker.seen() == []
        assert result["ok"] is False and "does not open" in str(result["error"])
    finally:
        redis.hset(key, "prod-snow", original)
        redis.incr(keys.version("default"))
        redis.close()
        time.sleep(RELOAD_S)
