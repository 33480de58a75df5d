"""What a write of a connector that maps in code sends, once its declared maps have split
the fields (`Connector.split_declared`): the record's answer is kept for those fields only."""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.connectors.base import Connector


def sent_fields(
    connector: Connector,
    fields: Mapping[str, str | None],
    own: Mapping[str, str | None],
    declared: Mapping[str, str | None],
) -> dict[str, str | None]:
    """The platform fields of `fields` a write sends: the connector's own, and the declared
    ones whose value crossed into `declared` (a skipped one is not written: the tool's value
    after the write is not ours, so it is not in `Written.stored`)."""
    return {
        k: v
        for k, v in fields.items()
        if k in own or set(connector.split_declared({k: v})[1]) & set(declared)
    }
