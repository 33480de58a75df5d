"""incident.io connector: Svix webhook signatures, checked against the vendor's test vector, and
the connector's use of the configured secret."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.incidentio import signature
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from tests.unit.connectors.incidentio.helpers import (
    SECRET,
    config,
    headers,
    sample,
)


class TestSvixVector:
    @pytest.fixture
    def vector(self) -> dict[str, Any]:
        return sample("signature_vector_svix.json")

    def check(self, vector: dict[str, Any], hdrs: dict[str, str], body: bytes, now: float) -> None:
        key = signature.decode_secret(vector["secret"])
        signature.verify(httpx.Headers(hdrs), body, key, now=now)

    def test_vector_verifies_with_frozen_clock(self, vector: dict[str, Any]) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        self.check(vector, vector["headers"], vector["body"].encode(), ts)

    def test_svix_header_names_accepted(self, vector: dict[str, Any]) -> None:
        hdrs = {k.replace("webhook-", "svix-"): v for k, v in vector["headers"].items()}
        self.check(vector, hdrs, vector["body"].encode(), int(hdrs["svix-timestamp"]))

    @pytest.mark.parametrize("part", ["body", "signature", "timestamp", "id"])
    def test_tampering_fails(self, vector: dict[str, Any], part: str) -> None:
        hdrs = dict(vector["headers"])
        body = vector["body"].encode()
        now = int(hdrs["webhook-timestamp"])
        if part == "body":
            body = body.replace(b"2432232314", b"2432232315")
        elif part == "signature":
            sig = hdrs["webhook-signature"]
            hdrs["webhook-signature"] = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
        elif part == "timestamp":
            hdrs["webhook-timestamp"] = str(now + 1)
        else:
            hdrs["webhook-id"] = "msg_other"
        with pytest.raises(WebhookRejected) as info:
            self.check(vector, hdrs, body, now)
        assert info.value.status == 401

    @pytest.mark.parametrize("offset", [301, -301, 3600])
    def test_outside_five_minutes_fails(self, vector: dict[str, Any], offset: int) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        with pytest.raises(WebhookRejected, match=r"too old|future") as info:
            self.check(vector, vector["headers"], vector["body"].encode(), ts + offset)
        assert info.value.status == 401

    def test_within_five_minutes_passes(self, vector: dict[str, Any]) -> None:
        ts = int(vector["headers"]["webhook-timestamp"])
        self.check(vector, vector["headers"], vector["body"].encode(), ts + 299)
        self.check(vector, vector["headers"], vector["body"].encode(), ts - 299)

    def test_several_signatures_one_valid(self, vector: dict[str, Any]) -> None:
        hdrs = dict(vector["headers"])
        valid = hdrs["webhook-signature"]
        bogus = "v1," + base64.b64encode(b"x" * 32).decode()
        hdrs["webhook-signature"] = f"{bogus} v1a,c29tZXRoaW5n {valid} v2,zzz"
        self.check(vector, hdrs, vector["body"].encode(), int(hdrs["webhook-timestamp"]))

    def test_only_other_versions_fails(self, vector: dict[str, Any]) -> None:
        hdrs = dict(vector["headers"])
        hdrs["webhook-signature"] = hdrs["webhook-signature"].replace("v1,", "v1a,")
        with pytest.raises(WebhookRejected):
            self.check(vector, hdrs, vector["body"].encode(), int(hdrs["webhook-timestamp"]))


def test_missing_headers_rejected() -> None:
    key = signature.decode_secret(SECRET)
    with pytest.raises(WebhookRejected, match="missing") as info:
        signature.verify(headers(), b"{}", key, now=0)
    assert info.value.status == 401


def test_connector_verify_uses_configured_secret() -> None:
    connector = IncidentIoConnector(config())
    body = b'{"event_type": "x"}'
    key = signature.decode_secret(SECRET)
    sig = signature.sign(key, "msg_1", "1700000000", body)
    hdrs = headers(**{"webhook-id": "msg_1", "webhook-timestamp": "1700000000"})
    hdrs["webhook-signature"] = sig
    connector.verify(hdrs, body, now=1_700_000_010)
    with pytest.raises(WebhookRejected):
        connector.verify(hdrs, body + b" ", now=1_700_000_010)


def test_connector_without_secret_rejects() -> None:
    cfg = config().model_copy(update={"webhook_secret": None})
    with pytest.raises(WebhookRejected, match="no webhook secret") as info:
        IncidentIoConnector(cfg).verify(headers(), b"{}", now=0)
    assert info.value.status == 401
