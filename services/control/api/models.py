"""The API's request and response models. The integration models are derived from
`syncmodel.config.IntegrationConfig`, so a field added there appears here (and in the OpenAPI
document) by itself.

Secrets (`api_key`, `password`, `oauth_client_secret`, `webhook_secret`) are write-only: a
request sets one with a string, clears it with null, and keeps it by leaving it out; a response
only says whether each is `set`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from control.auth import Role, Scope
from syncmodel.config import SECRET_FIELDS, IntegrationConfig
from syncmodel.fields import Field as CanonicalField
from syncmodel.ownership import FieldOwnership
from syncstate.conflicts import ConflictRecord, ConflictStatus

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits, -")]

# Set per side by the path or the store, never by a request body.
_IDENTITY: Final = ("id", "tenant", "paused")
# Kept when a full replacement (PUT) leaves them out.
KEEP_IF_ABSENT: Final = frozenset({*SECRET_FIELDS, "paused"})


def _copy(info: FieldInfo, *, optional: bool = False) -> tuple[Any, FieldInfo]:
    annotation: Any = info.annotation
    if optional:
        inner: Any = Annotated[annotation, *info.metadata] if info.metadata else annotation
        return inner | None, FieldInfo(default=None, description=info.description)
    return annotation, FieldInfo.merge_field_infos(info)


_FIELDS = {k: v for k, v in IntegrationConfig.model_fields.items() if k not in _IDENTITY}
_PUBLIC = {k: v for k, v in _FIELDS.items() if k not in SECRET_FIELDS}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# PUT /integrations/{name} and the platform: the whole side (secrets and `paused`: absent keeps).
IntegrationSpec: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationSpec",
    __base__=_Body,
    __doc__="An integration as a whole. Secrets left out keep their stored value.",
    paused=(bool | None, Field(None, description="left out: keep the current state")),
    **{k: _copy(v) for k, v in _FIELDS.items()},
)

# POST /integrations: a new one, named in the body.
IntegrationCreate: type[BaseModel] = create_model(
    "IntegrationCreate",
    __base__=IntegrationSpec,
    __doc__="A new integration.",
    name=(Name, ...),
)

PlatformSpec: type[BaseModel] = create_model(
    "PlatformSpec",
    __base__=IntegrationSpec,
    __doc__="The tenant's platform connection (incident.io).",
    name=(Name, Field("incidentio", description="the platform side's id")),
)

# PATCH: only what is given changes.
IntegrationPatch: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationPatch",
    __base__=_Body,
    __doc__="A partial change: fields left out keep their value; a secret set to null is cleared.",
    **{k: _copy(v, optional=True) for k, v in _FIELDS.items()},
)

SecretState = Literal["set", "unset"]

IntegrationView: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationView",
    __doc__="A side as stored, secrets shown only as set or unset.",
    name=(str, ...),
    tenant=(str, ...),
    paused=(bool, False),
    **{k: _copy(v) for k, v in _PUBLIC.items()},
    secrets=(dict[str, SecretState], ...),
    revision=(int, ...),
    created_at=(datetime, ...),
    updated_at=(datetime, ...),
    created_by=(str, ""),
    updated_by=(str, ""),
)


class IntegrationList(BaseModel):
    items: list[IntegrationView]


class ErrorBody(BaseModel):
    error: str = Field(description="a stable code: bad_request, unauthorized, forbidden, ...")
    reason: str = Field(description="what went wrong, for people")


# -- field ownership ---------------------------------------------------------------------------
# The guide's and the tools' names for canonical fields.
FIELD_ALIASES: Final = {
    "assigned_to": "assignee",
    "work_notes": "comment",
    "comments": "comment",
    "short_description": "title",
    "summary": "description",
    "name": "title",
    "urgency": "priority",
}
CANONICAL_FIELDS: Final = frozenset(f.value for f in CanonicalField)


def canonical_field(name: str) -> str | None:
    name = FIELD_ALIASES.get(name, name)
    return name if name in CANONICAL_FIELDS else None


class OwnershipRule(FieldOwnership):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OwnershipEntry(BaseModel):
    field: str
    owner: str
    priority: int
    source: Literal["configured", "default"]


class OwnershipView(BaseModel):
    integration: str
    uses_type_defaults: bool = Field(description="no rules configured: the tool type's apply")
    rules: list[OwnershipEntry]


# -- status ------------------------------------------------------------------------------------
class SyncCounters(BaseModel):
    """The pipeline's durable counters for one integration (Redis, the same on every replica).
    Totals since the integration's first event."""

    outbound_success: int = Field(0, description="writes to the tool that succeeded")
    outbound_failed: int = Field(0, description="writes to the tool given up on (DLQ)")
    inbound_success: int = Field(0, description="the tool's changes written to the platform")
    inbound_failed: int = Field(0, description="the tool's changes the platform refused (DLQ)")
    conflicts_detected: int = Field(0, description="two sides changed a field in the window")
    conflicts_resolved: int = Field(
        0, description="conflicts settled, by the strategy at once or by an operator"
    )
    drift_discrepancies: int = Field(0, description="differences found by reconcile runs")


class SyncStatus(BaseModel):
    name: str
    tenant: str
    type: str
    direction: str
    paused: bool
    counters: SyncCounters
    last_inbound_at: str | None = None
    last_outbound_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None


class SyncStatusList(BaseModel):
    items: list[SyncStatus]


class ConnectionTest(BaseModel):
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


# -- tokens, keys, audit -----------------------------------------------------------------------
class TokenCreate(_Body):
    name: str = Field(min_length=1, max_length=200, description="who holds it, e.g. alice@acme")
    role: Role
    scope: Scope = Scope()


class TokenView(BaseModel):
    id: str
    name: str
    role: Role
    scope: Scope
    created_at: datetime
    created_by: str


class TokenCreated(TokenView):
    token: str = Field(description="shown once; only its hash is stored")


class TokenList(BaseModel):
    items: list[TokenView]


class WhoAmI(BaseModel):
    id: str
    name: str
    role: Role | None
    scope: Scope


class KeyStatus(BaseModel):
    primary: str = Field(description="id of the key new secrets are sealed with")
    configured: list[str] = Field(description="ids of the keys this service holds, primary first")
    usage: dict[str, int] = Field(description="sealed secrets per key id")
    pending: int = Field(description="secrets not yet under the primary key")


class RotationResult(KeyStatus):
    resealed_records: int


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    at: str
    actor: dict[str, str]
    action: str
    tenant: str | None
    resource: dict[str, Any]
    before: Any = None
    after: Any = None


class AuditList(BaseModel):
    items: list[AuditEntry]


class AuditQuery(_Body):
    limit: int = Field(50, ge=1, le=1000)
    action: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=100, description="the resource's name")


class Deleted(BaseModel):
    deleted: str


# -- conflicts ---------------------------------------------------------------------------------
class ConflictQuery(_Body):
    status: ConflictStatus | None = Field(None, description="pending or resolved; all if absent")
    limit: int = Field(100, ge=1, le=1000)


class ConflictList(BaseModel):
    items: list[ConflictRecord]


class ConflictResolve(_Body):
    resolution: Literal["use-platform", "use-external", "ignore"] = Field(
        description="use-platform / use-external: that side's value goes everywhere; "
        "ignore: unpark the field, each side keeps what it shows"
    )


# -- manual sync -------------------------------------------------------------------------------
class SyncQuery(_Body):
    dry_run: bool = Field(False, description="list what would be synced, publish nothing")


class SyncedRecord(BaseModel):
    record_id: str = Field(description="the record in the integration's tool")
    incident_id: str = Field(description="the platform incident it is linked to")
    event_id: str | None = Field(None, description="the refresh queued for it (none on a dry run)")


class SyncRequested(BaseModel):
    integration: str
    tenant: str
    dry_run: bool
    records: list[SyncedRecord] = Field(description="each linked record re-read and pushed")
