"""`im get -o yaml` manifests and what `im apply` sends for them."""

from __future__ import annotations

import pytest

from incident_sync.control.cli.manifest import ManifestError, to_manifest, to_request

VIEW = {
    "name": "prod-snow",
    "tenant": "acme",
    "paused": False,
    "type": "servicenow",
    "base_url": "http://sn",
    "username": None,
    "direction": "outbound",
    "secrets": {
        "api_key": "unset",
        "password": "set",
        "oauth_client_secret": "unset",
        "webhook_secret": "set",
    },
    "revision": 3,
    "created_at": "x",
    "updated_at": "y",
    "created_by": "a",
    "updated_by": "b",
}


def test_a_manifest_applies_back_without_touching_stored_secrets() -> None:
    doc = to_manifest(VIEW, "Integration")
    assert doc["metadata"] == {"name": "prod-snow", "tenant": "acme"}
    assert "revision" not in doc["spec"] and "username" not in doc["spec"]
    kind, tenant, name, body = to_request(doc, "default")
    assert (kind, tenant, name) == ("Integration", "acme", "prod-snow")
    assert "password" not in body and "webhook_secret" not in body  # "set": keep
    assert body["api_key"] is None and body["oauth_client_secret"] is None  # "unset": clear
    assert body["direction"] == "outbound" and body["paused"] is False


def test_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = to_manifest(VIEW, "Integration")
    doc["spec"]["secrets"] = {"password": "${SNOW_PW}"}
    monkeypatch.setenv("SNOW_PW", "from-env")
    assert to_request(doc, "default")[3]["password"] == "from-env"
    monkeypatch.delenv("SNOW_PW")
    with pytest.raises(ManifestError):
        to_request(doc, "default")


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"apiVersion": "v0", "kind": "Integration", "metadata": {"name": "a"}},
        {"apiVersion": "incident-sync/v1", "kind": "Widget", "metadata": {"name": "a"}},
        {"apiVersion": "incident-sync/v1", "kind": "Integration", "metadata": {}},
    ],
)
def test_malformed_documents(doc: object) -> None:
    with pytest.raises(ManifestError):
        to_request(doc, "default")
