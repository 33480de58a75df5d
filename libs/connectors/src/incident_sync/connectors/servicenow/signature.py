"""HMAC signatures on the deliveries of the incident-sync business rule.

ServiceNow has no signed-webhook product: the business rule in docs/servicenow-setup.md signs
the exact body it sends with `GlideCertificateEncryption.generateMac(base64(secret),
"HmacSHA256", body)`, i.e. base64(HMAC-SHA256(secret as UTF-8, body)), and sends it as
`X-ServiceNow-Signature: sha256=<base64>`. Several space-separated entries are accepted so a
secret can be rotated without dropping deliveries (sign with both while switching over).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from incident_sync.connectors.base import WebhookRejected

HEADER: Final = "X-ServiceNow-Signature"
SCHEME: Final = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value the business rule sends for `body` (used by tests and the sandbox)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return SCHEME + base64.b64encode(digest).decode("ascii")


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise WebhookRejected(401) unless one `sha256=` entry is the body's HMAC."""
    value = headers.get(HEADER)
    if not value:
        raise WebhookRejected(401, f"missing {HEADER} header")
    expected = sign(secret, body).encode("ascii")
    for entry in value.split():
        if entry.startswith(SCHEME) and hmac.compare_digest(
            entry.encode("ascii", "replace"), expected
        ):
            return
    raise WebhookRejected(401, f"no {HEADER} entry matches the body")
