"""An integration's health on the whole local system (devstack's Stack: broker, redis-server,
sandboxes, control service, ingress and one outbound worker): the worker's gauges write its
circuit breaker and the group's consumer lag to Redis, the delivery the propagation time of
its last write, and the control API's status route, `im integration sync-status` and the
console's integration pages show them. ServiceNow is made to fail (the sandbox's fault
injection): the breaker opens, and closes again once the fault is cleared; with the worker
gone, the breaker is unknown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack
from tests.integration.console.signin import sign_in

pytestmark = pytest.mark.integration

T = "/api/v1/tenants/default"
ENV = {
    "GAUGES_S": "0.5",  # a report lives 1.5 s
    "BREAKER_FAILURES": "2",
    "BREAKER_OPEN_S": "3",
    "RETRY_DELAYS_S": "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5",
}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(extra_env=ENV)


def status(stack: Stack) -> dict[str, Any]:
    r = httpx.get(
        f"{stack.url('control')}{T}/integrations/prod-snow/status",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10.0,
    )
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    return found


def listed(stack: Stack) -> dict[str, Any]:
    r = httpx.get(
        f"{stack.url('control')}{T}/status",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10.0,
    )
    r.raise_for_status()
    items = {i["name"]: i for i in r.json()["items"]}
    found: dict[str, Any] = items["prod-snow"]
    return found


def breaker_is(stack: Stack, state: str) -> dict[str, Any] | None:
    s = status(stack)
    return s if s["breaker"]["state"] == state else None


def known(stack: Stack, *path: str) -> dict[str, Any] | None:
    """The status once the value at `path` is known (not null)."""
    s = status(stack)
    value: Any = s
    for name in path:
        value = value[name]
    return None if value is None else s


def console_pages(stack: Stack) -> tuple[str, str]:
    """The integrations page and prod-snow's page, as the administrator sees them."""
    with httpx.Client(base_url=stack.url("control"), timeout=10.0) as b:
        sign_in(b, stack.admin_token)
        many = b.get("/console/t/default/integrations")
        one = b.get("/console/t/default/integrations/prod-snow")
        assert many.status_code == one.status_code == 200
        return many.text, one.text


def test_the_breaker_and_the_lag_of_an_integration_in_its_status(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    # A healthy tool: the worker reports its breaker closed, and the first write's
    # propagation time and the consumer lag are known.
    incident = tools.declare("Healthy", "first write")
    wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    healthy = wait_for(lambda: known(stack, "last_propagation_s"), 10, "propagation")
    assert 0 < healthy["last_propagation_s"] < 30
    closed = wait_for(lambda: breaker_is(stack, "closed"), 10, "a closed breaker")
    [worker] = closed["breaker"]["workers"]
    assert worker["state"] == "closed" and worker["half_opens_at"] is None
    lag = wait_for(lambda: known(stack, "consumer_lag", "messages"), 10, "consumer lag")
    assert lag["consumer_lag"]["messages"] >= 0 and "sync.outbound" in lag["consumer_lag"]["topics"]
    many, one = console_pages(stack)
    assert 'data-breaker="closed"' in many and 'data-breaker="closed"' in one
    assert 'data-propagation="' in many and "no write yet" not in many
    assert 'data-consumer-lag="unknown"' not in one

    # ServiceNow answers 503 to everything: two transient failures open the breaker.
    tools.api_faults("servicenow", fail_status=503, fail_count=100_000)
    try:
        tools.declare("Sick tool", "cannot be written")
        opened = wait_for(lambda: breaker_is(stack, "open"), 30, "an open breaker")
        [worker] = opened["breaker"]["workers"]
        assert worker["state"] == "open" and worker["half_opens_at"] is not None
        assert listed(stack)["breaker"]["state"] in ("open", "half-open")
        shown = im(stack, "integration", "sync-status", "prod-snow")
        assert shown["breaker"]["state"] in ("open", "half-open")
        many, one = console_pages(stack)
        assert 'data-breaker="open"' in many or 'data-breaker="half-open"' in many, many
        assert 'data-breaker="open"' in one or 'data-breaker="half-open"' in one
    finally:
        tools.api_faults("servicenow")  # no faults
    # The probe after BREAKER_OPEN_S succeeds (the retried write): closed again.
    wait_for(lambda: breaker_is(stack, "closed"), 40, "the breaker closed again")
    many, one = console_pages(stack)
    assert 'data-breaker="closed"' in many and 'data-breaker="closed"' in one

    # No worker: its report expires (3 x GAUGES_S) and nobody says the breaker is closed.
    stack.child("outbound").kill()
    gone = wait_for(lambda: breaker_is(stack, "unknown"), 10, "an unknown breaker")
    assert gone["breaker"]["workers"] == []
    wait_for(lambda: status(stack)["consumer_lag"]["messages"] is None, 10, "an unknown lag")
    many, one = console_pages(stack)
    assert 'data-breaker="unknown"' in many and 'data-breaker="unknown"' in one
    assert 'data-consumer-lag="unknown"' in one
