"""Heals that did not take: a discrepancy an auto-heal already sent a fix for, found again on
the same values, is *unhealable*. Pure; the reconciler keeps the attempts (one per link and
field) between runs.

Some differences no write can remove: a tool that cannot store the value (it keeps a default
in place of an empty one, refuses it, or stores another form the pipeline does not know of),
a corrective change the arbiter lets another value beat, a write the tool takes without
effect. Healing those again on every run would write every run (and a push and a take can
alternate forever). So a run remembers what each heal was sent for; the next run that finds
the same discrepancy with the same values on both sides reports it as `unhealable` with the
reason, once counted, and sends nothing for it. When either side's value changes, the
discrepancy is a new one: healable again. A discrepancy no longer found is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from incident_sync.syncmodel.drift import Discrepancy, DriftType, Heal
from incident_sync.syncmodel.echo import normalize

# Heals that write a corrective change (the others report, unlink or recreate).
CORRECTIVE = frozenset(
    {Heal.TAKE_PLATFORM, Heal.TAKE_EXTERNAL, Heal.PUSH_PLATFORM, Heal.PUSH_EXTERNAL, Heal.CONFLICT}
)


class Attempt(BaseModel):
    """A heal sent for one field of one link, and the values it was sent for."""

    model_config = ConfigDict(frozen=True)

    platform_value: str | None
    external_value: str | None
    heal: Heal
    run_id: str
    at: datetime
    reported: bool = False  # judged unhealable (and counted) already


def attempt_key(d: Discrepancy) -> str:
    """One attempt per link (the tool's record) and field."""
    return f"{d.external_id}\x00{d.field or ''}"


def _same_values(d: Discrepancy, attempt: Attempt) -> bool:
    return normalize(d.platform_value) == normalize(attempt.platform_value) and normalize(
        d.external_value
    ) == normalize(attempt.external_value)


@dataclass(frozen=True)
class Judgement:
    discrepancies: list[Discrepancy]  # as found, the unhealable ones marked so, with a reason
    newly_unhealable: list[Discrepancy]  # judged so by this run (to count once)
    attempts: dict[str, Attempt]  # what to remember: key -> attempt (the heals to send now)
    forget: list[str]  # attempts whose discrepancy is gone (or changed values)


def judge(
    found: Iterable[Discrepancy],
    attempts: Mapping[str, Attempt],
    *,
    run_id: str,
    now: datetime,
    healing: bool,
) -> Judgement:
    """Mark the discrepancies an earlier heal did not remove; with `healing`, the attempts
    this run makes. `attempts`: what earlier runs sent, for the links compared."""
    out: list[Discrepancy] = []
    newly: list[Discrepancy] = []
    keep: dict[str, Attempt] = {}
    seen: set[str] = set()
    for d in found:
        if d.type is not DriftType.MISMATCH or d.heal not in CORRECTIVE:
            out.append(d)
            continue
        key = attempt_key(d)
        seen.add(key)
        before = attempts.get(key)
        if before is not None and _same_values(d, before):
            reason = (
                f"{before.heal.value} sent by {before.run_id} at {before.at.isoformat()} did not "
                "change either side; it is not sent again until one side's value changes"
            )
            unhealable = d.model_copy(update={"heal": Heal.UNHEALABLE, "reason": reason})
            out.append(unhealable)
            if healing and not before.reported:
                newly.append(unhealable)
                keep[key] = before.model_copy(update={"reported": True})
            continue
        out.append(d)
        if healing:
            keep[key] = Attempt(
                platform_value=d.platform_value,
                external_value=d.external_value,
                heal=d.heal,
                run_id=run_id,
                at=now,
            )
    forget = [k for k in attempts if k not in seen] if healing else []
    return Judgement(out, newly, keep, forget)
