"""PagerDuty webhook v3 signatures.

`X-PagerDuty-Signature` holds one or more comma-separated `v1=<hex HMAC-SHA256>` entries over
the raw body, keyed with the subscription secret's bytes as they are (no base64 decoding).
Several entries appear while a secret is rotated; any v1 match is enough, other versions are
skipped. No timestamp is signed: replays are caught by the `X-Webhook-Id` dedupe.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from incident_sync.connectors.base import WebhookRejected

HEADER: Final = "X-PagerDuty-Signature"


def sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secrets: list[str]) -> None:
    value = headers.get(HEADER)
    if not value:
        raise WebhookRejected(401, f"missing {HEADER} header")
    entries = [e.strip() for e in value.split(",") if e.strip().startswith("v1=")]
    if not entries:
        raise WebhookRejected(401, f"{HEADER} has no v1 signature")
    for secret in secrets:
        expected = sign(secret, body).encode()
        if any(
            hmac.compare_digest(e.lower().encode("ascii", "replace"), expected) for e in entries
        ):
            return
    raise WebhookRejected(401, f"no {HEADER} entry matches the body")
