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

from incident_sync.connectors.registry import REGISTRY
from incident_sync.control.auth import Role, Scope
from incident_sync.syncmodel.config import SECRET_FIELDS, IntegrationConfig, maps_by_file
from incident_sync.syncmodel.fieldmaps import CUSTOM_NAME, FieldMap, is_custom_field
from incident_sync.syncmodel.fields import Field as CanonicalField
from incident_sync.syncmodel.ownership import FieldOwnership
from incident_sync.syncstate.conflicts import ConflictRecord, ConflictStatus

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits, -")]

# The tool types the connector registry holds (its entry points), read once at start-up.
if not REGISTRY.types():
    raise RuntimeError(
        f"no connector is registered (entry-point group {REGISTRY.group}): the installed "
        "metadata is missing or stale; reinstall the project (scripts/bootstrap.sh)"
    )
ToolType: Any = Literal[REGISTRY.types()]
PlatformType: Any = Literal[tuple(t for t, s in REGISTRY.specs.items() if s.platform)]
# Each tool's options model, in the OpenAPI document's components (`routing.openapi`).
OPTION_MODELS: Final = tuple(dict.fromkeys(s.options for s in REGISTRY.specs.values()))
# Set per side by the path or the store, never by a request body.
_IDENTITY: Final = ("id", "tenant", "paused")
# Kept when a full replacement (PUT) leaves them out.
KEEP_IF_ABSENT: Final = frozenset({*SECRET_FIELDS, "paused"})


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _copy(info: FieldInfo, *, optional: bool = False) -> tuple[Any, FieldInfo]:
    """A config field as a request field; `optional` for a PATCH: may be left out, and null
    resets it to its default. A field the config requires (`type`, `base_url`) has no default
    to go back to: it may be left out but is never null."""
    annotation: Any = info.annotation
    if optional:
        inner: Any = Annotated[annotation, *info.metadata] if info.metadata else annotation
        if info.is_required():
            return inner, FieldInfo(
                default=None, description=info.description, json_schema_extra=_no_default
            )
        return inner | None, FieldInfo(default=None, description=info.description)
    return annotation, FieldInfo.merge_field_infos(info)


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


def platform_field(name: str) -> str | None:
    """A canonical field (by its name or a tool's alias) or a custom field (`custom.<name>`)
    as rules name it; None when it is neither."""
    if is_custom_field(name):
        return name
    return canonical_field(name)


# A request may name a field's ownership rule as the tools do (normalized when stored), or a
# custom field of the platform, as field maps name it.
_NAMED = "|".join(sorted(CANONICAL_FIELDS | set(FIELD_ALIASES)))
OwnershipKey: Any = Annotated[str, Field(pattern=rf"^(({_NAMED})|{CUSTOM_NAME})$", max_length=200)]

_CONFIG = {k: v for k, v in IntegrationConfig.model_fields.items() if k not in _IDENTITY}
_FIELDS = {
    **_CONFIG,
    "type": FieldInfo.merge_field_infos(
        _CONFIG["type"], annotation=ToolType, description="a registered tool type"
    ),
    "ownership": FieldInfo.merge_field_infos(
        _CONFIG["ownership"], annotation=dict[OwnershipKey, FieldOwnership] | None
    ),
}
_PUBLIC = {k: v for k, v in _CONFIG.items() if k not in SECRET_FIELDS}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _per_tool_rules(schema: dict[str, Any]) -> None:
    """What `IntegrationConfig` refuses per tool type, in the schema: the options its
    connector reads (its options model), and feature flags only where the mapping engine maps
    its fields. A body without `type` (a PATCH) is held to the stored type: a mismatch there
    answers 409."""
    branches: list[dict[str, Any]] = []
    for tool, spec in REGISTRY.specs.items():
        # null: a PATCH's reset to no options (the body's own schema refuses it elsewhere).
        model = {"$ref": f"#/components/schemas/{spec.options.__name__}"}
        options = {"anyOf": [model, {"type": "null"}]}
        branch: dict[str, Any] = {"properties": {"type": {"const": tool}, "options": options}}
        if not maps_by_file(tool, "", None):  # the platform: never
            branch["properties"]["features"] = {"type": "null"}
        if spec.platform:  # field maps are an integration's
            branch["properties"]["field_maps"] = {
                "anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]
            }
        elif not maps_by_file(tool, None, None):  # mapped in code: only given a mapping
            branch["anyOf"] = [
                {"properties": {"features": {"type": "null"}}},
                {"required": ["mapping_file"], "properties": {"mapping_file": {"type": "string"}}},
                {"required": ["field_map"], "properties": {"field_map": {"type": "object"}}},
            ]
        branches.append(branch)
    schema["anyOf"] = branches


class _SideBody(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_per_tool_rules)


# PUT /integrations/{name} and the platform: the whole side (secrets and `paused`: absent keeps).
IntegrationSpec: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationSpec",
    __base__=_SideBody,
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
    type=(PlatformType, Field(description="a platform's tool type (incident.io)")),
)

# PATCH: only what is given changes.
IntegrationPatch: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationPatch",
    __base__=_SideBody,
    __doc__="A partial change: fields left out keep their value; null resets a field to its "
    "default (a secret: clears it).",
    **{k: _copy(v, optional=True) for k, v in _FIELDS.items()},
)

SecretState = Literal["set", "unset"]

IntegrationView: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationView",
    __doc__="A side as stored, secrets shown only as set or unset.",
    name=(str, ...),
    tenant=(str, ...),
    paused=(bool, False),
    **{k: _copy(v) for k, v in _PUBLIC.items() if k != "mapping_file"},
    # As stored: a record written before mapping files were names only may hold a path (the
    # pipeline leaves it out, a write must correct it); showing it must not fail.
    mapping_file=(str | None, Field(None, description="as stored")),
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


class WorkerBreaker(BaseModel):
    """One outbound worker's circuit breaker for the integration, as its gauges last wrote it."""

    worker: str = Field(description="the worker (host and process)")
    state: Literal["closed", "half-open", "open"]
    at: datetime = Field(description="when the worker wrote it")
    half_opens_at: datetime | None = Field(
        None, description="while open: when the next request probes the tool"
    )


class Breaker(BaseModel):
    """The integration's circuit breaker: each worker keeps its own (opened by the tool's
    transient failures, 5xx and timeouts); `state` is the worst over the workers that reported
    in the last few `GAUGES_S`, `unknown` when none did (no worker running)."""

    state: Literal["closed", "half-open", "open", "unknown"] = "unknown"
    workers: list[WorkerBreaker] = Field(default_factory=list)


class ConsumerLag(BaseModel):
    """How many messages the outbound workers' consumer group is behind (end offset -
    committed offset, summed over partitions), the same for every integration: a measure
    from the last few `GAUGES_S`, or `messages` null when no worker measured it (unknown)."""

    messages: int | None = Field(None, description="behind on all topics; null: unknown")
    topics: dict[str, int] = Field(default_factory=dict, description="behind per topic")
    at: datetime | None = Field(None, description="when it was measured")


class SyncStatus(BaseModel):
    name: str
    tenant: str
    type: str
    direction: str
    paused: bool
    counters: SyncCounters
    last_inbound_at: str | None = None
    last_outbound_at: str | None = None
    last_propagation_s: float | None = Field(
        None,
        description="how far behind the tool's sync is: seconds from the change's arrival "
        "at the ingress to the tool acknowledging the write, for the write at "
        "`last_outbound_at`; null before the first",
    )
    last_error: str | None = None
    last_error_at: str | None = None
    breaker: Breaker = Field(default_factory=Breaker)
    consumer_lag: ConsumerLag = Field(default_factory=ConsumerLag)


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


class FieldMapsCheck(_Body):
    """Field maps to check against both sides' fields, without storing them."""

    field_maps: list[FieldMap] = Field(max_length=200)


class FieldMapsChecked(BaseModel):
    integration: str
    valid: bool
    problems: list[str]
