"""Secrets at rest: AES-GCM under a keyring, bound to their slot and destination, re-sealed
by rotation."""

from __future__ import annotations

import pytest

from incident_sync.controlstore.crypto import Keyring, KeyringError, generate_key
from incident_sync.controlstore.records import (
    BINDING,
    StoredSide,
    aad,
    open_secrets,
    public_view,
    reseal,
    seal,
    to_config,
)
from incident_sync.syncmodel.config import IntegrationConfig

OLD, NEW = generate_key(), generate_key()


def snow(**extra: object) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-snow",
            "type": "servicenow",
            "tenant": "acme",
            "base_url": "http://sn",
            "password": "pw-123",
            "webhook_secret": "hook-456",
            **extra,
        }
    )


def test_sealed_values_open_only_in_their_slot_and_hide_the_plaintext() -> None:
    ring = Keyring.from_text(OLD)
    stored = seal(snow(), ring, kind="integration")
    assert set(stored.secrets) == {"password", "webhook_secret"}
    assert "pw-123" not in stored.encode().decode()
    assert open_secrets(stored, ring) == {"password": "pw-123", "webhook_secret": "hook-456"}
    moved = stored.model_copy(update={"config": {**stored.config, "id": "other"}})
    with pytest.raises(KeyringError):
        open_secrets(moved, ring)
    assert public_view(stored)["secrets"]["password"] == "set"
    assert "pw-123" not in str(public_view(stored))


def test_sealed_values_open_only_for_their_destination() -> None:
    ring = Keyring.from_text(OLD)
    stored = seal(snow(base_url="https://sn.example.com/api"), ring, kind="integration")
    assert stored.binding == BINDING
    same_host = {**stored.config, "base_url": "https://SN.example.com:443/other/path"}
    assert open_secrets(stored.model_copy(update={"config": same_host}), ring)["password"]
    for elsewhere in ("https://evil.example.com", "http://sn.example.com", "https://sn:8443"):
        moved = stored.model_copy(update={"config": {**stored.config, "base_url": elsewhere}})
        with pytest.raises(KeyringError):
            open_secrets(moved, ring)
    # claiming the record predates the binding does not help either
    with pytest.raises(KeyringError):
        open_secrets(stored.model_copy(update={"binding": 1}), ring)


def legacy(ring: Keyring) -> StoredSide:
    """A record written before secrets were bound to their destination."""
    bound = seal(snow(), ring, kind="integration")
    secrets = {
        f: ring.seal(v, aad("acme", "integration", "prod-snow", f))
        for f, v in open_secrets(bound, ring).items()
    }
    raw = bound.model_dump(mode="json", exclude={"binding"})
    return StoredSide.model_validate({**raw, "secrets": secrets})


def test_records_of_before_the_binding_open_and_rotation_binds_them() -> None:
    ring = Keyring.from_text(OLD)
    old = legacy(ring)
    assert old.binding == 1
    assert open_secrets(old, ring)["password"] == "pw-123"
    bound = reseal(old, ring)
    assert bound is not None and bound.binding == BINDING
    assert open_secrets(bound, ring)["password"] == "pw-123"
    moved = bound.model_copy(update={"config": {**bound.config, "base_url": "http://evil"}})
    with pytest.raises(KeyringError):
        open_secrets(moved, ring)


def test_empty_secret_is_unset() -> None:
    stored = seal(snow(password=""), Keyring.from_text(OLD), kind="integration")
    assert "password" not in stored.secrets


def test_rotation_moves_every_secret_to_the_primary_key() -> None:
    stored = seal(snow(), Keyring.from_text(OLD), kind="integration")
    both = Keyring.from_text(f"{NEW},{OLD}")
    fresh = reseal(stored, both)
    assert fresh is not None
    assert reseal(fresh, both) is None  # nothing left to do
    assert {Keyring.sealed_with(v) for v in fresh.secrets.values()} == {both.primary_id}
    config = to_config(fresh, Keyring.from_text(NEW))
    assert config.password is not None and config.password.get_secret_value() == "pw-123"
    with pytest.raises(KeyringError):
        to_config(fresh, Keyring.from_text(OLD))


def test_keyring_configuration_errors() -> None:
    with pytest.raises(KeyringError):
        Keyring.from_text("")
    with pytest.raises(KeyringError):
        Keyring.from_text("c2hvcnQ")  # 5 bytes
