"""Which fields of a write its declared maps skip, once `Connector.split_declared` has split
them: a skipped value is not sent, so what the write "stored" there is the tool's value as it
is. The delivery takes a field missing from `Written.stored` as stored as sent, so a
connector reports the tool's value of each skipped field it can read (an outbound-only map's
field is not read: that one stays missing)."""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.connectors.base import Connector


def skipped_fields(
    connector: Connector,
    fields: Mapping[str, str | None],
    own: Mapping[str, str | None],
    declared: Mapping[str, str | None],
) -> frozenset[str]:
    """The platform fields of `fields` a declared map names whose value did not cross into
    `declared` (its value map skips it)."""
    return frozenset(
        k
        for k, v in fields.items()
        if k not in own and not set(connector.split_declared({k: v})[1]) & set(declared)
    )
