"""Secrets are write-only and sealed: no plaintext secret in any API answer (bodies of
successes and refusals alike), in Redis, or in the service's log; a key rotation re-seals
every secret so that the new key alone opens them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.controlstore.crypto import Keyring, KeyringError
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.devstack.rediscluster import RedisCluster
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect_sync, is_cluster
from tests.integration.control.service import ControlService, on_server_and_cluster

pytestmark = pytest.mark.integration

T = "/api/v1/tenants/vault"
ROTATION_DB = 7


@pytest.fixture(scope="module", params=["server", "cluster"])
def control(request: pytest.FixtureRequest) -> ControlService:
    """These tests run on one redis-server and on a Redis Cluster."""
    return on_server_and_cluster(request)


@pytest.fixture
def rotation_redis(control: ControlService, redis_port: int) -> Iterator[str]:
    """A store of its own for the rotation (every record of every tenant is re-sealed), of
    the same kind as the module's."""
    if not is_cluster(control.redis_url):
        yield f"redis://127.0.0.1:{redis_port}/{ROTATION_DB}"
        return
    cluster = RedisCluster(masters=3).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def admin(control: ControlService) -> Iterator[httpx.Client]:
    with control.client(control.admin) as client:
        yield client


def raw_redis(control: ControlService) -> bytes:
    """Every value of every key in the service's Redis db, concatenated."""
    r = connect_sync(control.redis_url)
    out: list[Any] = []
    for key in r.scan_iter():
        kind = r.type(key)
        if kind == b"string":
            out.append(r.get(key) or b"")
        elif kind == b"hash":
            out.extend(v for kv in r.hgetall(key).items() for v in kv)
        elif kind == b"set":
            out.extend(r.smembers(key))
        elif kind == b"stream":
            entries: list[Any] = r.xrange(key) or []
            for _, fields in entries:
                out.extend(fields.values())
    r.close()
    return b"\n".join(out)


def test_secrets_never_come_back(control: ControlService, admin: httpx.Client) -> None:
    pw, hook, key, oauth, pw2 = (control.secret() for _ in range(5))
    answers: list[httpx.Response] = []
    body = {
        "name": "snow-v",
        "type": "servicenow",
        "base_url": "http://127.0.0.1:9",
        "username": "sync",
        "password": pw,
        "webhook_secret": hook,
    }
    answers.append(admin.post(f"{T}/integrations", json=body))
    assert answers[-1].status_code == 201
    assert answers[-1].json()["secrets"] == {
        "api_key": "unset",
        "password": "set",
        "oauth_client_secret": "unset",
        "webhook_secret": "set",
    }
    answers.append(admin.patch(f"{T}/integrations/snow-v", json={"password": pw2, "api_key": key}))
    answers.append(
        admin.put(
            f"{T}/integrations/snow-v",
            json={"type": "servicenow", "base_url": "http://127.0.0.1:9", "username": "sync",
                  "oauth_client_id": "cid", "oauth_client_secret": oauth},
        )
    )  # fmt: skip
    assert answers[-1].json()["secrets"]["password"] == "set"  # left out: kept
    # Refused requests carrying secrets: the refusal does not echo them.
    answers.append(admin.post(f"{T}/integrations", json={**body, "name": "Bad Name"}))
    answers.append(admin.post(f"{T}/integrations", json={**body, "direction": pw}))
    answers.append(admin.patch(f"{T}/integrations/snow-v", json={"timeout_s": pw}))
    answers.append(admin.post(f"{T}/integrations", json=body))  # 409 exists
    assert [a.status_code for a in answers[-4:]] == [422, 422, 422, 409]
    # Everything that shows the integration.
    for path in ("/integrations", "/integrations/snow-v", "/audit?limit=100", "/status"):
        answers.append(admin.get(f"{T}{path}"))
    answers.append(admin.post(f"{T}/integrations/snow-v/test"))
    answers.append(admin.get("/api/v1/audit?limit=100"))
    text = "\n".join(a.text for a in answers)
    for secret in (pw, hook, key, oauth, pw2):
        assert secret not in text
    # The audit trail says which secrets changed, not what they are.
    audit = admin.get(f"{T}/audit", params={"name": "snow-v", "action": "integration.update"})
    assert audit.json()["items"][0]["secrets_changed"] == ["api_key", "password"]
    # At rest: sealed.
    stored = raw_redis(control)
    assert b"snow-v" in stored
    for secret in (pw, hook, key, oauth, pw2):
        assert secret.encode() not in stored
    # And the log of the whole run so far.
    assert control.log.read_text().count('"action":"integration.create"') >= 1
    assert control.leaked() == []


def test_a_secret_can_be_cleared_and_the_same_value_is_no_change(
    control: ControlService, admin: httpx.Client
) -> None:
    pw = control.secret()
    spec = {"type": "servicenow", "base_url": "http://127.0.0.1:9", "password": pw}
    first = admin.put(f"{T}/integrations/snow-w", json=spec).json()
    again = admin.put(f"{T}/integrations/snow-w", json=spec).json()
    assert again["revision"] == first["revision"]  # same secret again: nothing to write
    cleared = admin.patch(f"{T}/integrations/snow-w", json={"password": None}).json()
    assert cleared["secrets"]["password"] == "unset"
    assert cleared["revision"] == first["revision"] + 1


def test_rotation_reseals_everything_under_the_new_key(
    control: ControlService, rotation_redis: str
) -> None:
    """A service holding OLD seals; the service restarted with NEW,OLD (step 2 of the
    rotation) re-seals everything; then NEW alone opens every record and OLD alone none.
    A service that lacks a key in use refuses to rotate (409), it does not half-do it."""
    from incident_sync.controlstore.crypto import generate_key
    from tests.integration.control.service import start_control_at

    first = start_control_at(rotation_redis)
    pw = first.secret()
    try:
        with first.client(first.admin) as c:
            c.put(
                f"{T}/integrations/snow-r",
                json={"type": "servicenow", "base_url": "http://127.0.0.1:9", "password": pw},
            ).raise_for_status()
    finally:
        first.stop()
    old = first.keys
    new = generate_key()
    stranger = start_control_at(rotation_redis, keys=generate_key())
    try:
        with stranger.client(stranger.admin) as c:
            refused = c.post("/api/v1/keys/rotate")
            assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    finally:
        stranger.stop()
    rotating = start_control_at(rotation_redis, keys=f"{new},{old}")
    try:
        with rotating.client(rotating.admin) as c:
            before = c.get("/api/v1/keys").json()
            assert before["pending"] > 0
            result = c.post("/api/v1/keys/rotate").json()
            assert result["pending"] == 0 and result["resealed_records"] >= 1
            assert set(result["usage"]) == {Keyring.from_text(new).primary_id}
            # The service still reads and writes through the rotation.
            view = c.get(f"{T}/integrations/snow-r").json()
            assert view["secrets"]["password"] == "set"
        for service in (first, stranger, rotating):
            assert pw not in service.log.read_text()
    finally:
        rotating.stop()
    r = connect_sync(rotating.redis_url)
    raw: dict[bytes, bytes] = r.hgetall(keys.integrations("vault"))  # type: ignore[assignment]
    records = [StoredSide.decode(v) for v in raw.values()]
    r.close()
    only_new, only_old = Keyring.from_text(new), Keyring.from_text(old)
    opened = to_config(next(s for s in records if s.name == "snow-r"), only_new)
    assert opened.password is not None and opened.password.get_secret_value() == pw
    for stored in records:
        if stored.secrets:
            with pytest.raises(KeyringError):
                to_config(stored, only_old)
