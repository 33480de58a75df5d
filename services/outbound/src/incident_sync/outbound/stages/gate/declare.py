"""Declare from the tool (`syncmodel.declare`): the gate's answer to an unlinked record whose
integration has a create rule its state matches.

The record's values the integration may contribute (its mapping, its ownership) are the new
incident's; the platform's create is keyed by the record (`declare_key`), so every attempt to
declare it (a redelivered webhook, a worker racing this one, a retry after a crash between the
platform's answer and the link, the reconciler's poll) gets the same incident back. The link
is written once the platform answered (retried while Redis is away), never over another
(`syncstate.links.link_pair`: a record an operator linked meanwhile keeps that link); the
attempt that writes it counts it and appends the audit entry `integration.declare`. The
change then goes on as any change of a linked record does.
"""

from __future__ import annotations

import logging

from incident_sync.connectors.base import RecordNotFound
from incident_sync.controlstore.store import Actor, append_audit, audit_entry
from incident_sync.outbound.context import Context
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.metrics import DECLARED
from incident_sync.outbound.stages.gate.screening import Screening
from incident_sync.syncmodel.declare import declare_key, declared_fields, should_declare
from incident_sync.syncstate import links

log = logging.getLogger(__name__)


class Declarer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def declare(self, s: Screening) -> str | None:
        """The incident the record declared (and is now linked to), or None when its
        integration has no rule, or the record does not match it."""
        side, event = s.integration, s.event
        if s.is_platform:
            return None
        if side.declare is None:
            return None
        # The rule judges the record as its tool has it now, not the change alone (an edit's
        # webhook may carry one field): one read, only for a record not linked. The tool
        # values its `tool.` conditions name are the rule's alone (never synced).
        connector = self.ctx.connector(side.id)
        try:
            record, tool = await connector.read_for_rule(
                event.external_id, side.declare.tool_fields()
            )
        except RecordNotFound:
            return None  # gone since: nothing to declare
        state = dict(record.fields)
        if not should_declare(side.declare, False, state, tool):
            return None
        mapping = self.ctx.mappings[side.id]
        fields = declared_fields(state, mapping.inbound_fields(), side.ownership_rules())
        platform = self.ctx.connector(self.ctx.config.platform.id)
        # The platform incident's create takes the idempotency seed where a tool's create
        # takes the incident it is for: one key per record, not per attempt.
        record = await platform.create(declare_key(side.id, event.external_id), fields)
        pid = record.external_id

        async def link() -> links.PairLink:
            return await links.link_pair(
                self.ctx.store.redis, event.tenant, pid, side.id, event.external_id
            )

        outcome = await until_done(link, "gate.declare")
        if outcome.result == "taken":
            # Linked meanwhile by someone else (an operator's link, a link job): that link
            # stands, never moved; the record's changes follow it.
            log.warning(
                "declared record was linked elsewhere meanwhile: the link stands",
                extra={
                    "integration": side.id,
                    "external_id": event.external_id,
                    "incident": pid,
                    "record_incident": outcome.record_incident,
                    "incident_record": outcome.incident_record,
                },
            )
            return outcome.record_incident
        if outcome.result == "linked":  # not a rerun of a declare another attempt linked
            DECLARED.labels(side.id).inc()
            await until_done(lambda: self._audit(s, pid), "gate.declare.audit")
            log.info(
                "record declared an incident",
                extra={"integration": side.id, "external_id": event.external_id, "incident": pid},
            )
        s.declared = True
        return pid

    async def _audit(self, s: Screening, pid: str) -> None:
        """The declare in the tenant's audit trail, as an operator's link is (`im audit
        --action integration.declare`): the rule acted, on the record's webhook or poll."""
        event = s.event
        entry = audit_entry(
            Actor("", "declare-rule", ""),
            "integration.declare",
            event.tenant,
            {"kind": "integration", "name": s.integration.id},
            after={
                "incident": pid,
                "record": event.reference or event.external_id,
                "record_id": event.external_id,
                "origin": event.origin.value,
            },
        )
        await append_audit(self.ctx.store.redis, event.tenant, entry)
