"""The polling fallback for lost webhooks: every interval, list each side's records changed
since the stored watermark (less an overlap) and feed them to the pipeline as snapshots.

A snapshot travels like the webhook that was lost: `sync.inbound`, then the gate, which drops
what it already knows (the same version seen before is a duplicate delivery, an older one is
stale, an unchanged value a no-op), so only real changes go further. The watermark moves to
the time the listing started, once everything listed is acknowledged by the broker.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from opentelemetry.trace import SpanKind

from incident_sync.connectors.base import Connector, RecordState
from incident_sync.connectors.capabilities import ChangeFeed
from incident_sync.reconciler import metrics
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.sides import Sides
from incident_sync.runtime import tracing
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin, utcnow
from incident_sync.syncstate import links
from incident_sync.syncstate.reconcile import ReconcileStore

log = logging.getLogger("reconciler.poller")


def snapshot_event(tenant: str, side_id: str, record: RecordState, now: datetime) -> ChangeEvent:
    """A record as its webhook would have carried it. The delivery id names the version, so
    listing the same version again (the overlap) is dropped by the gate as a duplicate."""
    seen = record.version or (record.updated_at or now).isoformat()
    return ChangeEvent(
        delivery_id=f"poll:{side_id}:{record.external_id}:{seen}",
        tenant=tenant,
        integration_id=side_id,
        external_id=record.external_id,
        reference=record.reference,
        kind=ChangeKind.UPDATED,
        changes={f: FieldChange(new=v) for f, v in record.fields.items()},
        platform_incident_id=record.platform_incident_id,
        version=record.version,
        source_ts=record.updated_at or now,
        origin=Origin.RECONCILER,
    )


class Poller:
    def __init__(
        self,
        sides: Sides,
        store: ReconcileStore,
        publisher: Publisher,
        *,
        interval_s: float,
        overlap_s: float,
    ) -> None:
        self.sides = sides
        self.store = store
        self.publisher = publisher
        self.interval = timedelta(seconds=interval_s)
        self.overlap = timedelta(seconds=overlap_s)
        self._unsupported: set[str] = set()

    async def due(self, tenant: str, side_id: str) -> bool:
        mark = await self.store.watermark(tenant, side_id)
        return mark is None or utcnow() - mark >= self.interval

    async def poll(self, tenant: str, side_id: str) -> int:
        """One pass over one side; returns how many records were fed to the pipeline."""
        with tracing.stage("poll", kind=SpanKind.INTERNAL, integration_id=side_id):
            return await self._poll(tenant, side_id)

    async def _listed(
        self, tenant: str, connector: Connector, side_id: str, since: datetime
    ) -> list[RecordState]:
        """The records changed since then: those the tool lists as linked (`changed_since`:
        they carry our correlation, as a record we made does), and those it lists without it
        (`recent`) that are linked all the same (an operator's `link`, a link job's pair, a
        declared record: the link is ours, the record never got our correlation, and
        PagerDuty's `incident_key` cannot be set after its create), read again with their
        comments. For an integration with a declare rule (`syncmodel.declare`) also those not
        linked to any incident, which the gate may declare one for (the same record the
        webhook brought declares the same incident)."""
        assert isinstance(connector, ChangeFeed)
        records = await connector.changed_since(since)
        side = self.sides.config.side(side_id)
        if side is None or side is self.sides.config.platform:
            return records
        seen = {r.external_id for r in records}
        others = [r for r in await connector.recent(since) if r.external_id not in seen]
        linked = await links.incidents_of(
            self.store.redis, tenant, side_id, [r.external_id for r in others]
        )
        reread = await connector.fetch_many(list(linked)) if linked else {}
        records += [reread[r] for r in linked if r in reread]
        if side.declare is not None:
            records += [r for r in others if r.external_id not in linked]
        return records

    async def _poll(self, tenant: str, side_id: str) -> int:
        started = utcnow()
        mark = await self.store.watermark(tenant, side_id) or started - self.interval
        connector = self.sides.connector(side_id)
        try:
            records = (
                await self._listed(tenant, connector, side_id, mark - self.overlap)
                if isinstance(connector, ChangeFeed)
                else None
            )
        except Exception:
            metrics.POLLS.labels(side_id, "failed").inc()
            raise
        if records is None:
            metrics.POLLS.labels(side_id, "unsupported").inc()
            if side_id not in self._unsupported:
                self._unsupported.add(side_id)
                log.warning("no polling: the tool cannot list changes", extra={"side": side_id})
            await self.store.set_watermark(tenant, side_id, started)
            return 0
        await self.publisher.publish([snapshot_event(tenant, side_id, r, started) for r in records])
        await self.store.set_watermark(tenant, side_id, started)
        metrics.POLLS.labels(side_id, "success").inc()
        metrics.POLLED.labels(side_id).inc(len(records))
        if records:
            log.info("polled", extra={"side": side_id, "records": len(records)})
        return len(records)
