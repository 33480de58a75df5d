"""Identifier and timestamp formats the vendors use."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A 26-char ULID (48-bit ms time + 80 random bits), as incident.io ids are."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def sys_id() -> str:
    """ServiceNow's 32-hex GUID."""
    return secrets.token_hex(16)


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(dt: datetime) -> str:
    """incident.io's format: microseconds and a `Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def glide(dt: datetime) -> str:
    """ServiceNow's database date-time: "yyyy-MM-dd HH:mm:ss" in UTC."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
