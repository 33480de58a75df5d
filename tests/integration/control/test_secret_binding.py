"""Secrets are bound to their destination, on the real control service with real HTTP servers
for the tool and for another host (standing in for an attacker's): an integration manager
cannot move an integration's address and have its stored password follow (the write is
refused and audited until the secrets are given again), and an address changed in Redis
behind the API's back makes the record's secrets not open, so the connection test sends
nothing anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from redis import Redis

from incident_sync.syncstate import keys
from tests.integration.control.service import ControlService
from tests.integration.hosts import Host, recording_host

pytestmark = pytest.mark.integration

TENANT = "bound"
T = f"/api/v1/tenants/{TENANT}"


@pytest.fixture
def tool() -> Iterator[Host]:
    with recording_host() as host:
        yield host


@pytest.fixture
def attacker() -> Iterator[Host]:
    with recording_host() as host:
        yield host


@pytest.fixture(scope="module")
def manager(control: ControlService) -> Iterator[httpx.Client]:
    token = control.token("integration.manager", name="mallory", tenants=[TENANT])
    with control.client(token) as client:
        yield client


def snow(control: ControlService, admin: httpx.Client, name: str, base_url: str) -> str:
    password = control.secret("snow-pw")
    admin.put(
        f"{T}/integrations/{name}",
        json={
            "type": "servicenow",
            "base_url": base_url,
            "username": "sync",
            "password": password,
            "webhook_secret": control.secret("snow-hook"),
        },
    ).raise_for_status()
    return password


def connection_test(client: httpx.Client, name: str) -> dict[str, object]:
    r = client.post(f"{T}/integrations/{name}/test")
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


def test_moving_the_address_without_the_secrets_is_refused_and_audited(
    control: ControlService, manager: httpx.Client, tool: Host, attacker: Host
) -> None:
    with control.client(control.admin) as admin:
        password = snow(control, admin, "snow-move", tool.url)
        attempts = [
            manager.patch(f"{T}/integrations/snow-move", json={"base_url": attacker.url}),
            manager.put(
                f"{T}/integrations/snow-move",
                json={"type": "servicenow", "base_url": attacker.url + "/", "username": "sync"},
            ),
            # the webhook secret given again is not enough: the password would still go
            manager.patch(
                f"{T}/integrations/snow-move",
                json={"base_url": attacker.url, "webhook_secret": control.secret()},
            ),
        ]
        # The connection test (and everything else) still talks to the tool only.
        connection_test(manager, "snow-move")
        assert attacker.credentials([password]) == []
        assert attacker.seen() == []
        assert tool.credentials([password])  # the tool did get its own password
        for attempt in attempts:
            assert attempt.status_code == 409, attempt.text
            assert attempt.json()["error"] == "conflict"
            assert "password" in attempt.json()["reason"]
            assert attacker.url in attempt.json()["reason"]
        view = manager.get(f"{T}/integrations/snow-move").json()
        assert view["base_url"] == tool.url
        refused = admin.get(
            f"{T}/audit", params={"name": "snow-move", "action": "integration.update.refused"}
        ).json()["items"]
        assert refused[0]["actor"]["name"] == "mallory"
        assert refused[0]["destination_changed"] == {"from": tool.url, "to": attacker.url}
        assert "password" in refused[0]["reason"]
        assert admin.get(
            f"{T}/audit", params={"name": "snow-move", "action": "integration.apply.refused"}
        ).json()["items"]


def test_a_path_change_is_no_move(
    control: ControlService, manager: httpx.Client, tool: Host
) -> None:
    with control.client(control.admin) as admin:
        snow(control, admin, "snow-path", tool.url)
    r = manager.patch(f"{T}/integrations/snow-path", json={"base_url": tool.url + "/"})
    assert r.status_code == 200, r.text
    assert r.json()["secrets"]["password"] == "set"


def test_moving_with_the_secrets_given_again_goes_through(
    control: ControlService, manager: httpx.Client, tool: Host, attacker: Host
) -> None:
    """The writer who gives the password knows it: the old one never reaches the new host."""
    with control.client(control.admin) as admin:
        old = snow(control, admin, "snow-moved", tool.url)
        new = control.secret("new-pw")
        r = manager.patch(
            f"{T}/integrations/snow-moved", json={"base_url": attacker.url, "password": new}
        )
        assert r.status_code == 200, r.text
        assert connection_test(manager, "snow-moved")["ok"] is True
        assert attacker.credentials([new])  # the new host gets the password given for it
        assert attacker.credentials([old]) == []
        (entry,) = admin.get(
            f"{T}/audit", params={"name": "snow-moved", "action": "integration.update"}
        ).json()["items"]
        assert entry["destination_changed"] == {"from": tool.url, "to": attacker.url}
        assert entry["secrets_changed"] == ["password"]  # the webhook secret is re-sealed only
        # clearing a secret with null is giving it too
        cleared = manager.patch(
            f"{T}/integrations/snow-moved", json={"base_url": tool.url, "password": None}
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["secrets"]["password"] == "unset"


def test_the_platform_connection_is_bound_too(
    control: ControlService, tool: Host, attacker: Host
) -> None:
    with control.client(control.admin) as admin:
        key = control.secret("platform-key")
        spec = {"name": "incidentio", "type": "incidentio", "base_url": tool.url, "api_key": key}
        admin.put(f"{T}/platform", json=spec).raise_for_status()
        moved = admin.put(f"{T}/platform", json={**spec, "api_key": None, "base_url": attacker.url})
        assert moved.status_code == 200  # cleared: nothing stored follows
        admin.put(f"{T}/platform", json={**spec, "base_url": tool.url}).raise_for_status()
        del spec["api_key"]
        refused = admin.put(f"{T}/platform", json={**spec, "base_url": attacker.url})
        assert refused.status_code == 409, refused.text
        assert "api_key" in refused.json()["reason"]


def test_an_address_changed_in_redis_does_not_open(
    control: ControlService, manager: httpx.Client, tool: Host, attacker: Host
) -> None:
    """Someone who can write Redis but holds no key moves the record: its secrets no longer
    open (they are sealed for the tool's address), so nothing is sent to the new one."""
    with control.client(control.admin) as admin:
        password = snow(control, admin, "snow-redis", tool.url)
    r = Redis.from_url(control.redis_url)
    key = keys.integrations(TENANT)
    record = orjson.loads(r.hget(key, "snow-redis"))  # type: ignore[arg-type]
    record["config"]["base_url"] = attacker.url
    r.hset(key, "snow-redis", orjson.dumps(record))
    r.close()
    result = connection_test(manager, "snow-redis")
    assert attacker.credentials([password]) == []
    assert attacker.seen() == []
    assert result["ok"] is False
    assert "does not open" in str(result["error"])
    # A write now needs the secrets again (they cannot be carried over), not a 500.
    r2 = manager.patch(f"{T}/integrations/snow-redis", json={"timeout_s": 5})
    assert r2.status_code == 409, r2.text
    assert "cannot be opened" in r2.json()["reason"]
