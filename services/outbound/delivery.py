"""Delivery: performs one write to one side through its connector.

Before writing it records the fingerprints of the values so the echo is recognised; a create
first looks for a record already carrying the correlation, so a retried create never makes a
second one; after writing it stores the link and the target's new known state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from connectors.base import Connector, ToolError
from outbound.comments import Comments
from outbound.context import Context
from syncmodel.conflicts import NOT_ARBITRATED
from syncmodel.echo import normalize
from syncmodel.events import DeliveryCommand

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # "written", "created", "skipped", "failed"
    external_id: str | None = None
    error: str | None = None
    attempts: int = 1


class Delivery:
    def __init__(self, ctx: Context, retry_delays_s: tuple[float, ...] = (0.5, 2.0, 5.0, 10.0)):
        self.ctx = ctx
        self.retry_delays_s = retry_delays_s
        self.comments = Comments(ctx)

    async def process(self, cmd: DeliveryCommand) -> DeliveryResult:
        """Deliver with a short in-place retry for transient tool errors.

        A non-retryable error, or one that outlasts the retries, is returned as "failed" for
        the caller to dead-letter.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._deliver(cmd, attempt)
            except ToolError as exc:
                if not exc.retryable or attempt > len(self.retry_delays_s):
                    return DeliveryResult("failed", cmd.target_external_id, str(exc), attempt)
                delay = self.retry_delays_s[attempt - 1]
                if exc.retry_after_s is not None:
                    delay = max(delay, min(exc.retry_after_s, 60.0))
                log.warning(
                    "delivery retry",
                    extra={"command_id": cmd.command_id, "attempt": attempt, "error": str(exc)},
                )
                await asyncio.sleep(delay)

    async def _deliver(self, cmd: DeliveryCommand, attempt: int) -> DeliveryResult:
        ctx, store = self.ctx, self.ctx.store
        target_id = cmd.target_integration_id
        connector = ctx.connector(target_id)
        external_id = cmd.target_external_id
        if external_id is None:
            links = await store.links_of(cmd.tenant, cmd.platform_incident_id)
            external_id = links.get(target_id) or await connector.find_linked(
                cmd.platform_incident_id
            )
            if external_id is None:
                record = await connector.create(cmd.platform_incident_id, cmd.set_fields)
                external_id = record.external_id
                if record.version is not None:
                    await store.add_our_write(
                        cmd.tenant,
                        target_id,
                        external_id,
                        record.version,
                        cmd.set_fields,
                        ctx.config.echo_ttl_s,
                    )
                await store.link(cmd.tenant, cmd.platform_incident_id, target_id, external_id)
                await store.remember_state(
                    cmd.tenant,
                    target_id,
                    external_id,
                    cmd.set_fields,
                    record.version,
                    cmd.source_ts,
                )
                return DeliveryResult("created", external_id, attempts=attempt)
            await store.link(cmd.tenant, cmd.platform_incident_id, target_id, external_id)
            cmd = await self._not_yet_shown(cmd, external_id)
        comment = None
        if cmd.comment is not None:  # comments mapped id <-> id (outbound/comments.py)
            comment = await self.comments.prepare(cmd, connector, external_id)
            cmd = comment.command
        written = await self._write(cmd, connector, external_id)
        if comment is not None and await comment.finish():
            written = True
        return DeliveryResult("written" if written else "skipped", external_id, attempts=attempt)

    async def _write(self, cmd: DeliveryCommand, connector: Connector, external_id: str) -> bool:
        """Set the command's fields on the record; False when none is left to write."""
        ctx, store = self.ctx, self.ctx.store
        target_id = cmd.target_integration_id
        if not cmd.set_fields:
            return False
        # Pending first, then the check: the arbiter stores a new winner first, then looks for
        # pending writes; so either this check sees the winner or the arbiter sees this write.
        await store.expect_echo(
            cmd.tenant, target_id, external_id, cmd.set_fields, ctx.config.echo_ttl_s
        )
        cmd = await self._current(cmd, external_id)
        if not cmd.set_fields:
            return False
        before = await store.known_state(cmd.tenant, target_id, external_id)
        version = await connector.update(external_id, cmd.set_fields)
        if version is not None:
            await store.add_our_write(
                cmd.tenant, target_id, external_id, version, cmd.set_fields, ctx.config.echo_ttl_s
            )
        await store.remember_state(
            cmd.tenant,
            target_id,
            external_id,
            cmd.set_fields,
            version,
            cmd.source_ts,
            replaced=before.fields,
        )
        return True

    async def _not_yet_shown(self, cmd: DeliveryCommand, external_id: str) -> DeliveryCommand:
        """A create planned again (a redelivered "created", or a change made while the first
        create was in flight) found its record: write only what it does not show yet."""
        known = (
            await self.ctx.store.known_state(cmd.tenant, cmd.target_integration_id, external_id)
        ).fields
        fields = {
            f: v
            for f, v in cmd.set_fields.items()
            if f not in known or normalize(known[f]) != normalize(v)
        }
        return cmd.model_copy(update={"set_fields": fields})

    async def _current(self, cmd: DeliveryCommand, external_id: str) -> DeliveryCommand:
        """Drop the fields whose value is no longer the winner, or that are parked.

        Between the arbiter's decision and this write, a newer change of the same field may
        have won (from any side): writing this older value now would overwrite it on the
        target. The arbiter's memory says which change of each field stands.
        """
        names = [f for f in cmd.set_fields if f not in NOT_ARBITRATED]
        standing = await self.ctx.store.field_writes(cmd.tenant, cmd.platform_incident_id, names)
        stale = {f for f, w in standing.items() if w.ts > cmd.source_ts}
        if cmd.source_integration_id != cmd.target_integration_id:
            # Parked for review since this was planned: nothing propagates for it now (a
            # put-back of a record's own value is no propagation).
            parked = await self.ctx.store.parked(cmd.tenant, cmd.platform_incident_id)
            stale |= {f for f in names if f in parked}
        if not stale:
            return cmd
        log.info(
            "superseded fields not written",
            extra={"command_id": cmd.command_id, "fields": sorted(stale)},
        )
        store, target = self.ctx.store, cmd.target_integration_id
        for name in stale:  # not written after all: no echo to wait for
            await store.consume_echo(cmd.tenant, target, external_id, name, cmd.set_fields[name])
        await store.settle_pending(cmd.tenant, target, external_id, stale)
        fields = {f: v for f, v in cmd.set_fields.items() if f not in stale}
        return cmd.model_copy(update={"set_fields": fields})
