"""Delivery: performs one attempt of one write to one side through its connector.

Before writing it cuts the values to the tool's limits and records their fingerprints so the
echo is recognised; a create first looks for a record already carrying the correlation, so a
retried create never makes a second one; after writing it stores the link and the target's
new known state: what the tool answered it stored (its own form of a value, or a default it
filled in) beside what was sent, so that form counts as ours (`outbound.recordstate`). Every
request to the tool passes the throttle (`stages.delivery.throttle`: the tool's Retry-After, the
circuit breaker, rate and concurrency limits). What happens after a failure (the retry ladder,
the DLQ) is the caller's business (`stages.delivery.ladder`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio.client import Pipeline

from incident_sync.connectors.base import Connector, RequestNotSent, ToolError, write_context
from incident_sync.outbound.comments import Comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.recordstate import (
    last_set_by_a_person,
    rows_after,
    sent_marks,
    shows,
)
from incident_sync.outbound.stages.delivery import notes
from incident_sync.outbound.stages.delivery.throttle import Deferred
from incident_sync.outbound.state import parse_field_writes, parse_hash, parse_known
from incident_sync.syncmodel.conflicts import NOT_ARBITRATED
from incident_sync.syncmodel.declared import declared
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncmodel.fields import Field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # "written", "created", "skipped", "failed", "deferred"
    external_id: str | None = None
    error: str | None = None
    retryable: bool = False  # a failure that another attempt may fix
    retry_after_s: float | None = None  # the tool said when to come back
    until: float | None = None  # deferred: not before this unix time
    status: int | None = None  # the tool's HTTP status (a failure's, for the timeline)
    linked: bool = False  # the record was linked by this attempt (created or found)
    reference: str | None = None  # a created record's reference (INC0010001)


class RequestThrottle(Protocol):
    def request(self, tenant: str, integration_id: str) -> AbstractAsyncContextManager[None]: ...


class _Open:
    """No throttle: every request leaves at once (tests of the write logic alone)."""

    @asynccontextmanager
    async def request(self, tenant: str, integration_id: str) -> AsyncIterator[None]:
        yield


class Delivery:
    def __init__(self, ctx: Context, throttle: RequestThrottle | None = None):
        self.ctx = ctx
        self.throttle: RequestThrottle = throttle or _Open()
        self.comments = Comments(ctx)

    async def process(self, cmd: DeliveryCommand) -> DeliveryResult:
        """One attempt. A tool error comes back as "failed" (with whether a retry can help),
        a request the throttle holds back as "deferred"; nothing is retried here. A request the
        connector could not make (`RequestNotSent`) is raised: the quarantine's, not the
        DLQ's."""
        try:
            return await self._deliver(cmd)
        except RequestNotSent:
            raise  # no answer of the tool's: the stage quarantines the command
        except ToolError as exc:
            return DeliveryResult(
                "failed",
                cmd.target_external_id,
                str(exc),
                retryable=exc.retryable,
                retry_after_s=exc.retry_after_s,
                status=exc.status,
            )
        except Deferred as exc:
            return DeliveryResult(
                "deferred", cmd.target_external_id, exc.reason, retryable=True, until=exc.until
            )

    async def _deliver(self, cmd: DeliveryCommand) -> DeliveryResult:
        ctx, store = self.ctx, self.ctx.store
        target_id = cmd.target_integration_id
        connector = ctx.connector(target_id)
        throttle = self.throttle.request
        external_id = cmd.target_external_id
        found = False  # a create that found its record (linked now)
        if external_id is None:
            links = await store.links_of(cmd.tenant, cmd.platform_incident_id)
            external_id = links.get(target_id)
            if external_id is None:
                async with throttle(cmd.tenant, target_id):
                    external_id = await connector.find_linked(cmd.platform_incident_id)
                found = external_id is not None  # by the tool's correlation: linked now
            if external_id is None:
                context = await self._template_context(cmd, connector)
                async with throttle(cmd.tenant, target_id):
                    with write_context(context):
                        record = await connector.create(cmd.platform_incident_id, cmd.set_fields)
                created = record.external_id
                # What the new record holds: what was sent, in the form the tool stored it,
                # and what it filled in itself where the create sent nothing (an empty value).
                stored = {
                    **connector.sendable(cmd.set_fields),  # a value its map skips: not sent
                    **{k: v for k, v in record.fields.items() if k != Field.COMMENT},
                }
                # And nothing where it was sent nothing and said it filled in nothing: known
                # as empty, so a later snapshot's empty value, or an edit to empty, is no
                # change there (it would take back a newer edit still on its way).
                holds = {**dict.fromkeys(self._carried(target_id) - set(stored), ""), **stored}

                async def after_create() -> None:  # one transaction: link and bookkeeping
                    async with store.redis.pipeline(transaction=True) as pipe:
                        if record.version is not None:
                            store.q_add_our_write(
                                pipe,
                                cmd.tenant,
                                target_id,
                                created,
                                record.version,
                                stored,
                                ctx.config.echo_ttl_s,
                            )
                        store.q_link(pipe, cmd.tenant, cmd.platform_incident_id, target_id, created)
                        store.q_remember_state(
                            pipe,
                            cmd.tenant,
                            target_id,
                            created,
                            holds,
                            record.version,
                            cmd.source_ts,
                            sent=sent_marks(cmd.set_fields, stored),
                        )
                        self._q_wrote(pipe, cmd, created)
                        await pipe.execute()

                # Written: what follows is retried on its own (Redis away) rather than
                # redoing the write with the whole attempt (as after an update).
                await until_done(after_create, "delivery.after_create")
                return DeliveryResult("created", created, linked=True, reference=record.reference)
            await store.link(cmd.tenant, cmd.platform_incident_id, target_id, external_id)
        if cmd.is_create:  # ... that found its record: write only what it lacks
            cmd = await self._not_yet_shown(cmd, external_id)
            cmd = await self._without_written_comment(cmd, external_id)
        comment = None
        if cmd.comment is not None:  # comments mapped id <-> id (outbound/comments.py)
            comment = await self.comments.prepare(
                cmd, connector, external_id, lambda: throttle(cmd.tenant, target_id)
            )
            cmd = comment.command
        written = await self._write(cmd, connector, external_id)
        if comment is not None and await until_done(comment.finish, "delivery.comment"):
            written = True
        return DeliveryResult("written" if written else "skipped", external_id, linked=found)

    def _carried(self, integration_id: str) -> set[str]:
        """The fields the pipeline writes to the integration's records, comments aside."""
        mapping = self.ctx.mappings.get(integration_id)
        return set(mapping.outbound_fields()) - {Field.COMMENT} if mapping else set()

    async def _template_context(
        self, cmd: DeliveryCommand, connector: Connector
    ) -> dict[str, str | None]:
        """What the target's templates may name besides the command's own fields: the
        incident's values as the platform shows them now, its `url` and `reference` (one
        read of the platform, only for a target whose templates need it)."""
        maps = declared(connector.mapping)
        if maps is None or not maps.needs_context:
            return {}
        platform = self.ctx.connector(self.ctx.config.platform.id)
        incident = await platform.fetch(cmd.platform_incident_id)
        return {**incident.fields, "url": incident.url, "reference": incident.reference}

    async def _write(self, cmd: DeliveryCommand, connector: Connector, external_id: str) -> bool:
        """Set the command's fields on the record; False when none is left to write."""
        ctx, store = self.ctx, self.ctx.store
        target_id = cmd.target_integration_id
        if not cmd.set_fields:
            return False
        # Superseded already (a burst of edits, a stale retry): skip without asking the throttle
        # for a request slot. The check that counts comes after the pending mark below.
        async with store.pipeline() as pipe:
            names = self._q_current(pipe, cmd)
            standing = await pipe.execute()
        if not self._current(cmd, names, standing).set_fields:
            self._skip(cmd)
            return False
        async with self.throttle.request(cmd.tenant, target_id):
            # Cut to the tool's limits first: what is fingerprinted and remembered is what is
            # sent, so the echo of a cut value is ours (never taken back over the original).
            whole = cmd.set_fields
            cmd = cmd.model_copy(update={"set_fields": await connector.fit(whole)})
            # Pending first, then the check: the arbiter stores a new winner first, then looks
            # for pending writes; so either this check sees the winner or the arbiter sees
            # this write. In that order, in one round trip, with the record's known state.
            async with store.pipeline() as pipe:
                # What earlier writes of ours there still wait for (before this one's marks).
                store.q_pending_writes(pipe, cmd.tenant, target_id, external_id)
                store.q_expect_echo(
                    pipe, cmd.tenant, target_id, external_id, cmd.set_fields, ctx.config.echo_ttl_s
                )
                names = self._q_current(pipe, cmd)
                store.q_known_state(pipe, cmd.tenant, target_id, external_id)
                answers = await pipe.execute()
            waiting = parse_hash(answers[0])
            before = parse_known(answers[-1])
            current = self._current(cmd, names, answers[-3:-1] if names else answers[-2:-1])
            await self._drop_stale(cmd, current, external_id)
            cmd = current
            if not cmd.set_fields:
                return False
            try:
                with write_context(await self._template_context(cmd, connector)):
                    written = await connector.update(external_id, cmd.set_fields)
            except ToolError as exc:
                if not exc.retryable:  # never written: no echo to wait for
                    await self._not_written(cmd, external_id, set(cmd.set_fields))
                raise
        sent, version = cmd, written.version
        stored = {**sent.set_fields, **written.stored}
        marks = sent_marks({f: whole.get(f) for f in stored}, stored)

        async def after_update() -> None:
            async with store.pipeline() as pipe:
                if version is not None:
                    store.q_add_our_write(
                        pipe,
                        sent.tenant,
                        target_id,
                        external_id,
                        version,
                        stored,
                        ctx.config.echo_ttl_s,
                    )
                    store.q_echo_at(
                        pipe, sent.tenant, target_id, external_id, sent.set_fields, version
                    )
                    # An earlier write's other value there: its echo is known by its version
                    # now, and a later snapshot showing that value again shows a person's.
                    # (The gate's read ends a fingerprint that holds its write's version; one
                    # whose write failed holds none, test_interleavings.py.)
                    store.q_forget_echo(
                        pipe,
                        sent.tenant,
                        target_id,
                        external_id,
                        superseded(waiting, sent.set_fields),
                    )
                store.q_remember_state(
                    pipe,
                    sent.tenant,
                    target_id,
                    external_id,
                    stored,
                    version,
                    sent.source_ts,
                    replaced=before.fields,
                    person=last_set_by_a_person(before),
                    rows=rows_after(before, stored, version),
                    sent=marks,
                )
                self._q_wrote(pipe, sent, external_id)
                await pipe.execute()

        # Written: what follows is retried on its own (Redis away) rather than redoing the
        # write with the whole attempt.
        await until_done(after_update, "delivery.after_update")
        return True

    async def _not_yet_shown(self, cmd: DeliveryCommand, external_id: str) -> DeliveryCommand:
        """A create planned again (a redelivered "created", or a change made while the first
        create was in flight) found its record: write only what it does not show yet."""
        known = await self.ctx.store.known_state(cmd.tenant, cmd.target_integration_id, external_id)
        fields = {f: v for f, v in cmd.set_fields.items() if not shows(known, f, v)}
        return cmd.model_copy(update={"set_fields": fields})

    async def _without_written_comment(
        self, cmd: DeliveryCommand, external_id: str
    ) -> DeliveryCommand:
        """A create that found its record: its copy of the latest comment may be there
        already (`outbound.stages.delivery.notes`)."""
        if "comment" not in cmd.set_fields or not await notes.written(
            self.ctx.store.redis,
            cmd.tenant,
            cmd.target_integration_id,
            external_id,
            cmd.set_fields["comment"],
        ):
            return cmd
        fields = {f: v for f, v in cmd.set_fields.items() if f != "comment"}
        return cmd.model_copy(update={"set_fields": fields})

    def _q_wrote(self, pipe: Pipeline, cmd: DeliveryCommand, external_id: str) -> None:
        if "comment" in cmd.set_fields:
            notes.q_remember(
                pipe,
                cmd.tenant,
                cmd.target_integration_id,
                external_id,
                cmd.set_fields["comment"],
                self.ctx.config.dedupe_ttl_s,
            )

    @staticmethod
    def _skip(cmd: DeliveryCommand) -> None:
        log.info(
            "superseded fields not written",
            extra={"command_id": cmd.command_id, "fields": sorted(cmd.set_fields)},
        )

    async def _not_written(self, cmd: DeliveryCommand, external_id: str, names: set[str]) -> None:
        store = self.ctx.store
        fields = {name: cmd.set_fields[name] for name in names}
        async with store.pipeline() as pipe:
            store.q_not_written(pipe, cmd.tenant, cmd.target_integration_id, external_id, fields)
            await pipe.execute()

    def _q_current(self, pipe: Pipeline, cmd: DeliveryCommand) -> list[str]:
        """Queues the reads `_current` needs: the standing change of each arbitrated field
        (none queued without such fields), then the parked ones."""
        names = [f for f in cmd.set_fields if f not in NOT_ARBITRATED]
        self.ctx.store.q_field_writes(pipe, cmd.tenant, cmd.platform_incident_id, names)
        self.ctx.store.q_parked(pipe, cmd.tenant, cmd.platform_incident_id)
        return names

    def _current(
        self, cmd: DeliveryCommand, names: list[str], answers: list[Any]
    ) -> DeliveryCommand:
        """Drop the fields whose value is no longer the winner, or that are parked.

        Between the arbiter's decision and this write, a newer change of the same field may
        have won (from any side): writing this older value now would overwrite it on the
        target. The arbiter's memory says which change of each field stands. `answers`: those
        of the reads `_q_current` queued.
        """
        standing = parse_field_writes(names, answers[0]) if names else {}
        parked = parse_hash(answers[-1])
        stale = {f for f, w in standing.items() if w.ts > cmd.source_ts}
        if cmd.source_integration_id != cmd.target_integration_id:
            # Parked for review since this was planned: nothing propagates for it now (a
            # put-back of a record's own value is no propagation).
            stale |= {f for f in names if f in parked}
        if not stale:
            return cmd
        fields = {f: v for f, v in cmd.set_fields.items() if f not in stale}
        return cmd.model_copy(update={"set_fields": fields})

    async def _drop_stale(
        self, cmd: DeliveryCommand, current: DeliveryCommand, external_id: str
    ) -> None:
        """The fields `_current` dropped had their echo marks set: take them back."""
        stale = set(cmd.set_fields) - set(current.set_fields)
        if stale:
            log.info(
                "superseded fields not written",
                extra={"command_id": cmd.command_id, "fields": sorted(stale)},
            )
            await self._not_written(cmd, external_id, stale)


def superseded(
    waiting: Mapping[str, str | None], written: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The values earlier writes of ours put in the fields `written` now sets otherwise."""
    return {
        f: old
        for f, old in waiting.items()
        if f in written and normalize(old) != normalize(written[f])
    }
