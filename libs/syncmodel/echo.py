"""Echo fingerprints and no-op detection: pure helpers the gate and delivery share.

Tools rewrite what they are sent (whitespace, line endings), so values are normalized before
they are compared or fingerprinted; an unnormalized comparison would loop.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping

from syncmodel.events import FieldChange


def normalize(value: str | None) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def fingerprint(field: str, value: str | None) -> str:
    """A short stable digest of one field's normalized value."""
    digest = hashlib.blake2b(f"{field}\x00{normalize(value)}".encode(), digest_size=12)
    return digest.hexdigest()


def real_changes(
    changes: Mapping[str, FieldChange], last_known: Mapping[str, str | None]
) -> dict[str, FieldChange]:
    """Drop fields whose new value equals what is already known for the record.

    `old` is filled from the last known value when the source did not send one.
    """
    out: dict[str, FieldChange] = {}
    for field, change in changes.items():
        known = last_known.get(field)
        if field in last_known and normalize(known) == normalize(change.new):
            continue
        old = change.old if change.old is not None else known
        out[field] = FieldChange(old=old, new=change.new)
    return out


def is_stale(version: str | None, last_version: str | None) -> bool:
    """A value older than the last one applied to the same field of a record is stale."""
    return version is not None and last_version is not None and version < last_version


def fresh_changes(
    changes: Mapping[str, FieldChange], version: str | None, versions: Mapping[str, str]
) -> dict[str, FieldChange]:
    """Drop the fields for which a newer value was already applied.

    Versions are kept per field because some tools send only the changed fields: a delayed
    delivery of an older edit may still carry the only news about another field.
    """
    return {f: c for f, c in changes.items() if not is_stale(version, versions.get(f))}
