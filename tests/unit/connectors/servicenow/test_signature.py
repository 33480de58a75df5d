"""ServiceNow connector: business-rule webhook signatures (GlideCertificateEncryption.generateMac
format, secret rotation) and the registry."""

from __future__ import annotations

import httpx
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.registry import make_connector
from incident_sync.connectors.servicenow import signature
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from tests.unit.connectors.servicenow.helpers import SECRET, config


def test_signature_matches_generate_mac_format() -> None:
    # The well-known HMAC-SHA256 example (hex f7bc83f4...2d1a3cd8), base64-encoded as
    # GlideCertificateEncryption.generateMac returns it; docs/servicenow-setup.md checks it.
    value = signature.sign("key", b"The quick brown fox jumps over the lazy dog")
    assert value == "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def test_signature_good_bad_rotation() -> None:
    body = b'{"event": "incident.updated"}'
    conn = ServiceNowConnector(config())
    good = signature.sign(SECRET, body)
    conn.verify(httpx.Headers({"X-ServiceNow-Signature": good}), body)
    conn.verify(httpx.Headers({"x-servicenow-signature": good}), body)  # any header case
    rotated = f"{signature.sign('old-secret', body)} {good}"
    conn.verify(httpx.Headers({"X-ServiceNow-Signature": rotated}), body)
    for bad in [signature.sign("wrong", body), good.removeprefix("sha256="), "sha256=", ""]:
        with pytest.raises(WebhookRejected) as info:
            conn.verify(httpx.Headers({"X-ServiceNow-Signature": bad}), body)
        assert info.value.status == 401
    with pytest.raises(WebhookRejected):
        conn.verify(httpx.Headers({"X-ServiceNow-Signature": good}), body + b"\n")
    with pytest.raises(WebhookRejected, match="missing"):
        conn.verify(httpx.Headers(), body)


def test_no_secret_configured_rejects() -> None:
    conn = ServiceNowConnector(config(webhook_secret=None))
    with pytest.raises(WebhookRejected, match="no webhook secret"):
        conn.verify(httpx.Headers(), b"{}")


def test_registry_by_type() -> None:
    assert isinstance(make_connector(config()), ServiceNowConnector)
