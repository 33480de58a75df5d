"""Svix webhook signatures, as incident.io sends them.

incident.io delivers through Svix with the white-labelled `webhook-*` headers; Svix's own
`svix-*` names are accepted too. The signed text is `{id}.{timestamp}.{raw body}`, the HMAC
key is the base64 part of the `whsec_...` secret, and the signature header may hold several
space-separated `v1,<base64>` entries while a secret is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping
from typing import Final

from incident_sync.connectors.base import WebhookRejected

# Svix's own libraries reject messages more than five minutes old or ahead of our clock:
# enough for clock skew, too short to replay a captured delivery later.
TOLERANCE_S: Final = 300
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format marker, not a secret


def decode_secret(secret: str) -> bytes:
    """The HMAC key held by a `whsec_<base64>` signing secret."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise ValueError("the incident.io signing secret is not whsec_<base64>") from None


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """One `v1,<base64>` signature entry (used by tests and the sandbox)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(key, content, "sha256")  # one-shot: no HMAC object per request
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(f"webhook-{name}") or headers.get(f"svix-{name}")


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The Svix message id: stable across retries of one delivery."""
    return _header(headers, "id")


def verify(
    headers: Mapping[str, str],
    body: bytes,
    key: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise WebhookRejected(401) unless one v1 signature in the header matches the body."""
    msg_id = _header(headers, "id")
    timestamp = _header(headers, "timestamp")
    signatures = _header(headers, "signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookRejected(401, "missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected(401, "webhook-timestamp is not an integer") from None
    clock = time.time() if now is None else now
    if clock - sent_at > tolerance_s:
        raise WebhookRejected(401, "webhook timestamp too old")
    if sent_at - clock > tolerance_s:
        raise WebhookRejected(401, "webhook timestamp is in the future")
    expected = sign(key, msg_id, timestamp, body).encode("ascii")
    for entry in signatures.split():
        # Other versions (e.g. asymmetric `v1a`) are not ours to check: skip, do not fail.
        if not entry.startswith("v1,"):
            continue
        if hmac.compare_digest(entry.encode("ascii", "replace"), expected):
            return
    raise WebhookRejected(401, "no webhook-signature entry matches")
