"""Declare from the tool: an integration's inbound create rule.

A record of the integration's tool that has no linked platform incident, and whose canonical
state matches the rule's `when` (the condition language of `syncmodel.trigger`, tested on the
tool record's state: e.g. `priority` equals `P1`), declares a platform incident and is linked
to it; from then on the pair syncs like any other. Off unless configured
(`IntegrationConfig.declare`).

Exactly one incident per record: the platform's create is keyed by `declare_key`, derived
from the integration and the record id only, so a redelivered webhook, two workers racing, a
retry after a crash between the platform's answer and the link, and the reconciler's poll of
the same record all get the one incident the first create made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict

from incident_sync.syncmodel.ownership import FieldOwnership, accepts_inbound
from incident_sync.syncmodel.trigger import Trigger


class Declare(BaseModel):
    """The rule: a record matching `when` (all its conditions) declares an incident."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when: Trigger

    def matches(self, state: Mapping[str, str | None]) -> bool:
        return self.when.matches(state)


def declare_key(integration_id: str, external_id: str) -> str:
    """The seed of the platform create's idempotency key: the same for every attempt to
    declare one record, whichever process makes it."""
    return f"declare:{integration_id}:{external_id}"


def should_declare(rule: Declare | None, linked: bool, state: Mapping[str, str | None]) -> bool:
    """Whether an observed record declares an incident: a rule is configured, the record is
    not linked, and its state matches the rule."""
    return rule is not None and not linked and rule.matches(state)


def declared_fields(
    state: Mapping[str, str | None],
    inbound: Collection[str],
    rules: Mapping[str, FieldOwnership],
) -> dict[str, str | None]:
    """What the new incident is created with: the record's values the integration may
    contribute (its mapping takes them in, the platform does not own them), as for any change
    of a linked record; empty values are left to the platform's defaults."""
    return {f: v for f, v in state.items() if v and f in inbound and accepts_inbound(rules, f)}
