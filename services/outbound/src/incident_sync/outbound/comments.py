"""Comments by id in the pipeline, over the id map (`outbound.commentmap`).

Gate (`screen`): a tool's comment event (added / edited / deleted, with the tool's comment id)
is dropped when that comment is a copy we wrote (its echo, recognised by id; or by the
fingerprint of our write when the echo outran the map), or when an "added" of a comment that
was already copied comes again.

Delivery (`prepare`), per command carrying a CommentChange (its id is the SOURCE's):
- added: skipped when a copy is mapped already. Where the target's tool keeps comment ids,
  it is written on its own, before the command's fields (a retry then finds it mapped and
  writes only the fields), and the new id is mapped. Its intent is recorded first: if the
  write's outcome is lost (the worker dies, the request times out), the gate adopts the
  tool's echo of it as the copy, and a retry within `UNCONFIRMED_WAIT_S` is deferred to give
  that echo the time to arrive; after it, the comment is written again (at once where no
  echo can come: Slack, an outbound-only integration). Elsewhere it joins the field write
  (one request: a ServiceNow work note goes in the same PATCH) and is mapped after it.
- edited / deleted: applied to the mapped copy where the tool edits or deletes comments;
  skipped where it cannot, or where no copy was made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

from incident_sync.connectors.base import Connector, RecordNotFound, ToolError
from incident_sync.connectors.capabilities import CommentThread, WebhookSource
from incident_sync.outbound.commentmap import CommentMap
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.delivery.throttle import Deferred
from incident_sync.syncmodel.comments import COMMENT
from incident_sync.syncmodel.events import ChangeEvent, CommentAction, DeliveryCommand

log = logging.getLogger(__name__)

# How long a retry waits for the echo of a copy whose write went out but was never confirmed
# (the worker died, the request timed out) before writing it again. Echo webhooks come back
# within a second; a restarted worker's gate needs a little longer to reach them.
UNCONFIRMED_WAIT_S = 20.0


@dataclass
class PreparedComment:
    """The command left for the field write, and what to do once it is written."""

    command: DeliveryCommand
    written: bool = False  # a write by comment id was made already
    after: Callable[[], Awaitable[None]] | None = None  # maps a comment merged into the fields

    async def finish(self) -> bool:
        """Run after the field write; True if this comment was written."""
        if self.after is not None:
            await self.after()
            return True
        return self.written


class Comments:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.map = CommentMap(ctx.store.redis)

    # -- gate --------------------------------------------------------------------------------
    async def screen(self, event: ChangeEvent, pid: str, echoed: Collection[str]) -> str | None:
        """Why a comment event is dropped, or None when it is a person's new change."""
        change = event.comment
        assert change is not None
        side, tenant = event.integration_id, event.tenant
        if COMMENT in echoed and change.action is CommentAction.ADDED and change.body:
            # Our copy, whose id may not be mapped yet (its write died before): map it.
            await self.map.adopt(tenant, pid, side, change.comment_id, change.body)
        ours = COMMENT in echoed or (
            await self.map.origin_of(tenant, pid, side, change.comment_id) is not None
        )
        if ours:
            await self.ctx.store.settle_pending(tenant, side, event.external_id, {COMMENT})
            return "echo_comment"
        if change.action is CommentAction.ADDED and await self.map.was_copied(
            tenant, pid, side, change.comment_id
        ):
            return "duplicate_comment"
        return None

    # -- delivery ----------------------------------------------------------------------------
    async def prepare(
        self,
        cmd: DeliveryCommand,
        connector: Connector,
        external_id: str,
        throttle: Callable[[], AbstractAsyncContextManager[None]] = nullcontext,
    ) -> PreparedComment:
        """`throttle` wraps each request to the tool (the delivery's rate, concurrency and
        circuit checks)."""
        change = cmd.comment
        assert change is not None
        tenant, pid = cmd.tenant, cmd.platform_incident_id
        source, target, source_id = (
            cmd.source_integration_id,
            cmd.target_integration_id,
            change.comment_id,
        )
        rest = cmd.model_copy(update={"comment": None})
        copy = await self.map.copy_of(tenant, pid, source, source_id, target)
        if change.action is CommentAction.ADDED:
            body = change.body or ""
            if copy is not None or not body:
                self._skipped(cmd, "already copied" if copy is not None else "empty")
                return PreparedComment(rest)
            if not isinstance(connector, CommentThread):
                fields = {**rest.set_fields, COMMENT: body}

                async def mapped() -> None:
                    await self.map.record_copy(tenant, pid, source, source_id, target, None)

                return PreparedComment(rest.model_copy(update={"set_fields": fields}), after=mapped)
            echoes = self._echoes(connector, target)
            if echoes:
                sent_at = await self.map.intended_at(tenant, pid, source, source_id, target)
                if sent_at is not None and time.time() < sent_at + UNCONFIRMED_WAIT_S:
                    # An earlier attempt sent it and then died or timed out: it may be there.
                    # If it is, its echo reaches the gate, which maps it; then this finds it.
                    raise Deferred(sent_at + UNCONFIRMED_WAIT_S, "comment_unconfirmed")
            store, ttl = self.ctx.store, self.ctx.config.echo_ttl_s
            await store.expect_echo(tenant, target, external_id, {COMMENT: body}, ttl)
            if echoes:
                await self.map.intend(tenant, pid, source, source_id, target, body, time.time())
            try:
                async with throttle():
                    target_id = await connector.add_comment(external_id, body)
            except ToolError as exc:
                if echoes and exc.status is not None:  # the tool answered: it wrote nothing
                    await self.map.drop_intent(tenant, pid, source, source_id, target, body)
                raise
            await self.map.record_copy(tenant, pid, source, source_id, target, target_id, body)
            await store.remember_state(tenant, target, external_id, {COMMENT: body})
            return PreparedComment(rest, written=True)
        if not copy or not (
            isinstance(connector, CommentThread) and connector.supports_comment_edits
        ):
            self._skipped(cmd, "no copy with an id" if not copy else "the tool cannot edit")
            return PreparedComment(rest)
        edit = change.body or ""
        if change.action is CommentAction.EDITED and await self.map.holds_text(
            tenant, pid, source, source_id, target, edit
        ):
            self._skipped(cmd, "the copy shows this text already")
            return PreparedComment(rest)
        try:
            async with throttle():
                if change.action is CommentAction.EDITED:
                    await connector.edit_comment(external_id, copy, edit)
                else:
                    await connector.delete_comment(external_id, copy)
            if change.action is CommentAction.EDITED:
                await self.map.edited(tenant, pid, source, source_id, target, edit)
        except RecordNotFound:  # a person deleted our copy meanwhile: nothing left to follow
            await self.map.forget_copy(tenant, pid, source, source_id, target)
            self._skipped(cmd, "the copy is gone")
            return PreparedComment(rest)
        if change.action is CommentAction.DELETED:
            await self.map.forget_copy(tenant, pid, source, source_id, target)
        return PreparedComment(rest, written=True)

    def _echoes(self, connector: Connector, target: str) -> bool:
        """Whether our write to `target` comes back to us as a webhook (Slack sends none; an
        outbound-only integration's are ignored): only then is an unconfirmed copy waited for."""
        side = self.ctx.config.side(target)
        inbound = side is not None and (
            side.id == self.ctx.config.platform.id or side.direction.accepts_inbound
        )
        return isinstance(connector, WebhookSource) and inbound

    @staticmethod
    def _skipped(cmd: DeliveryCommand, why: str) -> None:
        change = cmd.comment
        log.info(
            "comment not written",
            extra={
                "command_id": cmd.command_id,
                "target": cmd.target_integration_id,
                "action": change.action.value if change else None,
                "reason": why,
            },
        )
