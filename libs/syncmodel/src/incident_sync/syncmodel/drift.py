"""Drift: where a linked record and its platform incident disagree, and how to heal it.

Pure. The reconciler reads both records of every link (and what the pipeline last knew of
each) and asks `compare` for the discrepancies; `heal_events` turns the healable ones into
change events for `sync.inbound`, so corrective changes travel the same gate and arbiter as
any webhook (echo, ownership and conflict rules included).

Which fields are compared, and which way a difference heals (`flows`):
- the comment stream is never compared: it is appended to, not a value both sides hold;
- a field carried both ways with no owner is *shared*: the side that changed since the
  pipeline last saw it has news (a lost webhook) and is taken in as a change; if both did,
  both are published and the conflict rules decide; if neither did (a write that never
  landed), the value the arbiter let through last is pushed, else the platform's;
- a field with an owner (ownership rule), or carried by a one-way integration, has an
  authority: its news is taken in, otherwise its value is pushed onto the other side;
- a field the mapping carries one way only (e.g. a ticket's status taken in but never
  written out) is a discrepancy only when its source has news: the receiving side may set
  its own value there.
A field present on only one of the two records (a tool that does not read it back) cannot be
compared. A field parked for manual review is reported, never healed.

Values are compared as each side stores them: normalised (`echo.normalize`: an empty value is
no value), and a record still showing the tool's stored form of a value we wrote (cut to a
limit, rewritten by the tool, or its own default where we sent nothing: `Side.sent`) shows
that value. A heal that did not remove its discrepancy is judged by `syncmodel.healing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin
from incident_sync.syncmodel.fields import Direction, Owner
from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.mapping import FieldMapping

NOT_COMPARED = frozenset({F.COMMENT.value})


class Flow(StrEnum):
    SHARED = "shared"
    PLATFORM_AUTHORITY = "platform_authority"
    EXTERNAL_AUTHORITY = "external_authority"
    PLATFORM_NEWS_ONLY = "platform_news_only"
    EXTERNAL_NEWS_ONLY = "external_news_only"


class DriftType(StrEnum):
    MISMATCH = "mismatch"  # a compared field differs
    MISSING_EXTERNAL = "missing_external"  # the tool's record is gone
    MISSING_PLATFORM = "missing_platform"  # the platform incident is gone


class Heal(StrEnum):
    TAKE_PLATFORM = "take_platform"  # the platform's change never travelled: take it in
    TAKE_EXTERNAL = "take_external"  # the tool's change never travelled: take it in
    PUSH_PLATFORM = "push_platform"  # write the platform's value onto the tool's record
    PUSH_EXTERNAL = "push_external"  # write the tool's value onto the platform incident
    CONFLICT = "conflict"  # both sides changed: both taken in, the conflict rules decide
    UNLINK = "unlink"  # a record is gone: forget the link
    RECREATE = "recreate"  # the tool's record is gone: make a new one
    NONE = "none"  # reported only (parked for review, or as configured)
    UNHEALABLE = "unhealable"  # healed before to no effect: reported, not sent again


class MissingPolicy(StrEnum):
    """What a reconcile does with a link whose record is gone on one side."""

    REPORT = "report"
    UNLINK = "unlink"
    RECREATE = "recreate"  # the tool's record only; a platform incident is never recreated


class Discrepancy(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: DriftType
    platform_incident_id: str
    external_id: str
    reference: str | None = None
    field: str | None = None
    platform_value: str | None = None
    external_value: str | None = None
    heal: Heal = Heal.NONE
    reason: str | None = None  # why it is not healed (unhealable)


@dataclass(frozen=True)
class Side:
    """One record of a link as read now, and what the pipeline last knew of it."""

    fields: Mapping[str, str | None]
    known: Mapping[str, str | None]
    version: str | None = None
    updated_at: datetime | None = None
    reference: str | None = None
    # field -> the value we wrote, where the known value is the tool's stored form of it
    sent: Mapping[str, str | None] = dataclasses.field(default_factory=dict)

    def has_news(self, field: str) -> bool:
        return field in self.known and not _same(self.known[field], self.fields.get(field))

    def shows_ours(self, field: str, value: str | None) -> bool:
        """Whether the record still shows the tool's stored form of our write of `value`."""
        return (
            field in self.sent
            and not self.has_news(field)
            and field in self.known
            and _same(self.sent[field], value)
        )


def _same(a: str | None, b: str | None) -> bool:
    return normalize(a) == normalize(b)


def agree(platform: Side, external: Side, field: str) -> bool:
    """Whether both records hold the same value of `field`, as each side stores it."""
    p, e = platform.fields.get(field), external.fields.get(field)
    return _same(p, e) or external.shows_ours(field, p) or platform.shows_ours(field, e)


def flows(integration: IntegrationConfig, mapping: FieldMapping) -> dict[str, Flow]:
    """The compared fields of an integration's links and which way each heals."""
    out_ok = integration.direction.writes_outbound
    in_ok = integration.direction.accepts_inbound
    outbound = mapping.outbound_fields() if out_ok else frozenset()
    inbound = mapping.inbound_fields() if in_ok else frozenset()
    rules = integration.ownership_rules()
    result: dict[str, Flow] = {}
    for field in (outbound | inbound) - NOT_COMPARED:
        rule = rules.get(field)
        out, into = field in outbound, field in inbound
        if rule is not None and rule.owner is Owner.PLATFORM:
            if out:
                result[field] = Flow.PLATFORM_AUTHORITY
        elif rule is not None and rule.owner is Owner.EXTERNAL:
            if into:
                result[field] = Flow.EXTERNAL_AUTHORITY
        elif out and into:
            result[field] = Flow.SHARED
        elif out:
            one_way = integration.direction is Direction.OUTBOUND
            result[field] = Flow.PLATFORM_AUTHORITY if one_way else Flow.PLATFORM_NEWS_ONLY
        else:
            one_way = integration.direction is Direction.INBOUND
            result[field] = Flow.EXTERNAL_AUTHORITY if one_way else Flow.EXTERNAL_NEWS_ONLY
    return result


def _heal(
    flow: Flow, field: str, platform: Side, external: Side, standing: FieldWrite | None
) -> Heal | None:
    """How one differing field heals; None when the difference is not drift."""
    news_p, news_e = platform.has_news(field), external.has_news(field)
    match flow:
        case Flow.SHARED:
            if news_p and news_e:
                return Heal.CONFLICT
            if news_e:
                return Heal.TAKE_EXTERNAL
            if news_p:
                return Heal.TAKE_PLATFORM
            # Neither changed since last seen: a write never landed. The value the arbiter
            # let through last says which side is behind (the platform's, when unknown).
            if standing is not None and _same(standing.value, external.fields.get(field)):
                return Heal.PUSH_EXTERNAL
            return Heal.PUSH_PLATFORM
        case Flow.PLATFORM_AUTHORITY:
            return Heal.TAKE_PLATFORM if news_p else Heal.PUSH_PLATFORM
        case Flow.EXTERNAL_AUTHORITY:
            return Heal.TAKE_EXTERNAL if news_e else Heal.PUSH_EXTERNAL
        case Flow.PLATFORM_NEWS_ONLY:
            return Heal.TAKE_PLATFORM if news_p else None
        case Flow.EXTERNAL_NEWS_ONLY:
            return Heal.TAKE_EXTERNAL if news_e else None
    return None


def compare(
    platform_incident_id: str,
    external_id: str,
    platform: Side,
    external: Side,
    field_flows: Mapping[str, Flow],
    *,
    standing: Mapping[str, FieldWrite] | None = None,
    parked: Collection[str] = (),
) -> list[Discrepancy]:
    """The differing fields of one link, each with its heal.

    `standing`: per field, the change the arbiter let through last for the incident;
    `parked`: fields awaiting manual review.
    """
    out: list[Discrepancy] = []
    for field in sorted(field_flows):
        if field not in platform.fields or field not in external.fields:
            continue
        p, e = platform.fields[field], external.fields[field]
        if agree(platform, external, field):
            continue
        if field in parked:
            heal: Heal | None = Heal.NONE
        else:
            stand = (standing or {}).get(field)
            heal = _heal(field_flows[field], field, platform, external, stand)
        if heal is None:
            continue
        out.append(
            Discrepancy(
                type=DriftType.MISMATCH,
                platform_incident_id=platform_incident_id,
                external_id=external_id,
                reference=external.reference,
                field=field,
                platform_value=p,
                external_value=e,
                heal=heal,
            )
        )
    return out


def missing(
    platform_incident_id: str,
    external_id: str,
    *,
    platform_gone: bool,
    policy: MissingPolicy,
    reference: str | None = None,
) -> Discrepancy:
    """A link whose tool record (or platform incident) is gone, handled per `policy`."""
    if platform_gone:
        kind = DriftType.MISSING_PLATFORM
        # A tool never makes a platform incident: recreating one is left to people.
        heal = Heal.UNLINK if policy is not MissingPolicy.REPORT else Heal.NONE
    else:
        kind = DriftType.MISSING_EXTERNAL
        heal = {
            MissingPolicy.REPORT: Heal.NONE,
            MissingPolicy.UNLINK: Heal.UNLINK,
            MissingPolicy.RECREATE: Heal.RECREATE,
        }[policy]
    return Discrepancy(
        type=kind,
        platform_incident_id=platform_incident_id,
        external_id=external_id,
        reference=reference,
        heal=heal,
    )


# -- corrective events ---------------------------------------------------------------------
TAKES = {Heal.TAKE_PLATFORM: "platform", Heal.TAKE_EXTERNAL: "external"}
PUSHES = {Heal.PUSH_PLATFORM: "platform", Heal.PUSH_EXTERNAL: "external"}


@dataclass(frozen=True)
class LinkSides:
    """What `heal_events` needs of one link beyond its discrepancies."""

    tenant: str
    platform_id: str
    integration_id: str
    platform_incident_id: str
    external_id: str
    platform: Side
    external: Side


def heal_events(
    link: LinkSides,
    discrepancies: Iterable[Discrepancy],
    *,
    run_id: str,
    now: datetime,
    standing: Mapping[str, FieldWrite] | None = None,
) -> list[ChangeEvent]:
    """The change events that heal one link's field discrepancies.

    - take: the side's current values of those fields, as its webhook would have carried
      them (old = what the pipeline knew), dated by the record's own update time; the gate
      takes them as news and the arbiter sends them everywhere they go.
    - push: a refresh of the authoritative record limited to those fields and delivered to
      the other side of this link only; the gate re-reads the record, and pushes a field
      only if it still holds the value compared (else a newer change is on its way, with its
      own time). It is dated by the time of that value (the arbiter's standing write, else
      the record's update time), so a newer change made meanwhile still wins.
    """
    records = {"platform": link.platform, "external": link.external}
    takes: dict[str, dict[str, FieldChange]] = {"platform": {}, "external": {}}
    pushes: dict[str, list[str]] = {"platform": [], "external": []}
    for d in discrepancies:
        if d.type is not DriftType.MISMATCH or d.field is None:
            continue
        if d.heal in PUSHES:
            pushes[PUSHES[d.heal]].append(d.field)
            continue
        takers: tuple[str, ...] = ("platform", "external") if d.heal is Heal.CONFLICT else ()
        if d.heal in TAKES:
            takers = (TAKES[d.heal],)
        for side in takers:
            record = records[side]
            change = FieldChange(old=record.known.get(d.field), new=record.fields.get(d.field))
            takes[side][d.field] = change
    # side -> (its integration id, its record id, the other side's integration id)
    ids = {
        "platform": (link.platform_id, link.platform_incident_id, link.integration_id),
        "external": (link.integration_id, link.external_id, link.platform_id),
    }
    events: list[ChangeEvent] = []
    for side, (integration, record_id, other) in ids.items():
        record = records[side]
        if takes[side]:
            events.append(
                ChangeEvent(
                    delivery_id=f"reconcile:{run_id}:{integration}:{record_id}:take",
                    tenant=link.tenant,
                    integration_id=integration,
                    external_id=record_id,
                    reference=record.reference,
                    kind=ChangeKind.UPDATED,
                    changes=takes[side],
                    platform_incident_id=link.platform_incident_id,
                    version=record.version,
                    source_ts=record.updated_at or now,
                    origin=Origin.RECONCILER,
                )
            )
        if pushes[side]:
            dated = [
                w.ts
                for f in pushes[side]
                if (w := (standing or {}).get(f)) is not None
                and _same(w.value, record.fields.get(f))
            ]
            events.append(
                ChangeEvent(
                    delivery_id=f"reconcile:{run_id}:{integration}:{record_id}:push",
                    tenant=link.tenant,
                    integration_id=integration,
                    external_id=record_id,
                    kind=ChangeKind.REFRESH,
                    # The values the push was decided on: the gate pushes a field only if the
                    # record still shows it (a newer change travels with its own time).
                    changes={f: FieldChange(new=record.fields.get(f)) for f in pushes[side]},
                    only_fields=tuple(sorted(pushes[side])),
                    platform_incident_id=link.platform_incident_id,
                    source_ts=max(dated) if dated else (record.updated_at or now),
                    origin=Origin.RECONCILER,
                    deliver_to=(other,),
                )
            )
    return events


def recreate_event(
    tenant: str,
    platform_id: str,
    integration_id: str,
    platform_incident_id: str,
    *,
    run_id: str,
    now: datetime,
) -> ChangeEvent:
    """A refresh of the platform incident delivered only to `integration_id`, whose link was
    just removed: the arbiter plans a create there (if the integration's trigger matches)."""
    return ChangeEvent(
        delivery_id=f"reconcile:{run_id}:{platform_id}:{platform_incident_id}:recreate",
        tenant=tenant,
        integration_id=platform_id,
        external_id=platform_incident_id,
        kind=ChangeKind.REFRESH,
        platform_incident_id=platform_incident_id,
        source_ts=now,
        origin=Origin.RECONCILER,
        deliver_to=(integration_id,),
    )
