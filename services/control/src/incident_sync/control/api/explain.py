"""Why one field of an incident holds what it holds on each side:
`GET /tenants/{t}/incidents/{ref}/explain?field=title`.

`ref` is resolved as for the timeline (`api.timeline.resolve`); the field is named as
ownership rules name it (a canonical field, a tool's alias such as `short_description`, or a
platform custom field `custom.<name>`), and answered by its canonical name. The sides are the
tenant's platform and the integrations the incident is linked in (then any other side the
field's entries name); each side's sentence comes from the incident's timeline and the
integrations' directions (`syncmodel.explain`), and its value is the one the pipeline last
knew there (its record state; null when it knows none). Nothing is asked of a tool. Decided
by the policy as the timeline is (action `incident.timeline`, with the incident's lead).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.models import platform_field
from incident_sync.control.api.routing import FIELD_NAMES, Call
from incident_sync.control.api.timeline import resolve
from incident_sync.syncmodel.explain import Step, explain
from incident_sync.syncmodel.fieldmaps import CUSTOM_NAME
from incident_sync.syncstate import keys

FIELD_MAX = 200
SAID_MAX = 60  # characters of an unknown field's name said back


def _known(name: str) -> str:
    """The field's canonical name; an unknown one is refused, naming it."""
    canonical = platform_field(name)
    if canonical is None:
        said = name if len(name) <= SAID_MAX else name[: SAID_MAX - 1] + "…"
        raise ValueError(
            f"unknown field {said!r}: name a canonical field ({', '.join(FIELD_NAMES)}) "
            "or a platform custom field (custom.<name>)"
        )
    return canonical


FieldName = Annotated[
    str,
    Field(min_length=1, max_length=FIELD_MAX),
    AfterValidator(_known),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": list(FIELD_NAMES)},
                {"type": "string", "pattern": rf"^{CUSTOM_NAME}$", "maxLength": FIELD_MAX},
            ],
            "description": "a canonical field, a tool's alias of one (short_description), "
            "or a platform custom field (custom.<name>)",
        }
    ),
]


class ExplainQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: FieldName


class SideReason(BaseModel):
    side: str = Field(description="the side, as the timeline names it (its integration)")
    platform: bool = Field(description="whether it is the tenant's platform")
    record: str | None = Field(description="the incident's record there (null: not linked)")
    value: str | None = Field(description="the value the pipeline last knew there (or null)")
    sentence: str = Field(description="why the field holds it there, in one sentence")
    entries: list[str] = Field(description="the timeline entries it rests on (stream ids)")
    at: datetime | None = Field(description="the newest of them (null: none recorded)")


class IncidentExplanation(BaseModel):
    incident: str = Field(description="the platform incident")
    ref: str = Field(description="the reference asked for")
    resolved_by: str = Field(description="how the reference was read (as for the timeline)")
    field: str = Field(description="the canonical field")
    sides: list[SideReason] = Field(description="the platform's first, then the linked sides")


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def get_explanation(call: Call) -> web.StreamResponse:
    ref, tenant = call.params["ref"], call.tenant
    found = await resolve(call.services, tenant, ref)
    if found is None:
        raise not_found(f"an incident or linked record {ref!r} in tenant {tenant}")
    incident, how = found
    name: str = call.query.field
    platform = await call.services.store.platform(tenant)
    platform_side = platform.name if platform is not None else None
    links = {
        _s(k): _s(v)
        for k, v in (await call.services.redis.hgetall(keys.links(tenant, incident))).items()
    }
    kept = await call.services.timeline.read(tenant, incident)
    steps = [
        Step(e.id, e.at, e.kind.value, e.sides, e.fields, e.rule, e.trace_id, e.detail)
        for e in kept
        if e.at is not None and e.id is not None
    ]
    sides = ([platform_side] if platform_side else []) + sorted(set(links) - {platform_side})
    directions = {
        i.name: str(i.config.get("direction", "bidirectional"))
        for i in await call.services.store.integrations(tenant)
    }
    reasons = explain(name, steps, sides, directions=directions, today=datetime.now(UTC).date())
    records = {r.side: incident if r.side == platform_side else links.get(r.side) for r in reasons}
    async with call.services.redis.pipeline(transaction=False) as pipe:
        for reason in reasons:
            record = records[reason.side]
            if record is not None:
                pipe.hget(keys.state(tenant, reason.side, record), name)
        answers = iter(await pipe.execute())
    out: list[SideReason] = []
    for reason in reasons:
        record = records[reason.side]
        raw: Any = next(answers) if record is not None else None
        out.append(
            SideReason(
                side=reason.side,
                platform=reason.side == platform_side,
                record=record,
                value=_s(raw) if raw is not None else None,
                sentence=reason.sentence,
                entries=list(reason.entries),
                at=reason.at,
            )
        )
    answer = IncidentExplanation(incident=incident, ref=ref, resolved_by=how, field=name, sides=out)
    return json_response(answer.model_dump(mode="json"))
