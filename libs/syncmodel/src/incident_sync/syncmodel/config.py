"""Runtime configuration of the sides: the platform connection and each integration.

Two sources build the same `SyncConfig`: one JSON file (`INCIDENT_SYNC_CONFIG`, read by
`incident_sync.runtime.configfiles`, which also replaces `${VAR}` in string values), or the
control store in Redis (`controlstore.source`, written by the control API). This module
reads nothing: it checks what the sources read (`parse_config`), and a side's mapping file
comes through the reader it is given (`resolve_mapping`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from incident_sync.syncmodel.declare import Declare, unseen_fields
from incident_sync.syncmodel.declared import DeclaredMapping
from incident_sync.syncmodel.destination import BASE_URL_PATTERN
from incident_sync.syncmodel.fieldmaps import FieldMap, PlatformFieldName, duplicates
from incident_sync.syncmodel.fields import (
    ConflictStrategy,
    Direction,
    ReopenPolicy,
)
from incident_sync.syncmodel.loaderrors import ConfigError, describe
from incident_sync.syncmodel.mapping import (
    MAPPING_FILE_NAME,
    FeatureFlags,
    FieldMapping,
    MappingConfig,
    MappingError,
)
from incident_sync.syncmodel.options import check_options
from incident_sync.syncmodel.ownership import FieldOwnership
from incident_sync.syncmodel.toolfields import tool_mapping
from incident_sync.syncmodel.tools import catalogue, default_ownership, known, traits_of
from incident_sync.syncmodel.trigger import Trigger

# The credentials and webhook secret: encrypted at rest, write-only in the control API.
SECRET_FIELDS: tuple[str, ...] = ("api_key", "password", "oauth_client_secret", "webhook_secret")
# The ones sent to the tool (`base_url`); the webhook secret only checks what arrives.
SENT_SECRET_FIELDS: tuple[str, ...] = ("api_key", "password", "oauth_client_secret")


def maps_by_file(tool: object, mapping_file: object, field_map: object) -> bool:
    """Whether an integration's fields go through the field-mapping engine (the mapping file's
    format): a tool whose connector declares no canonical fields of its own, or any tool given
    a mapping; never a platform, nor a tool that maps its values in code unless given one."""
    traits = known(tool)
    if traits is None or traits.platform:
        return False
    return mapping_file is not None or field_map is not None or traits.fields is None


class IntegrationConfig(BaseModel):
    """One side. Unknown keys are refused (a key nobody reads is a mistake, not a no-op)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # A tool type a connector registers (`syncmodel.tools`, the `incident_sync.connectors`
    # entry points).
    type: str = Field(max_length=100)
    tenant: str = "default"
    # Where the credentials below are sent, and nowhere else (`syncmodel.destination`).
    base_url: str = Field(pattern=BASE_URL_PATTERN)
    # The credentials the tool's connector sends (each connector says which it uses).
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    direction: Direction = Direction.BIDIRECTIONAL
    # The tool account this service writes as: changes made by it are our own echoes.
    actor: str | None = None
    # A file name inside the mappings directory (MAPPINGS_DIR), never a path; its content is
    # read where the config is loaded (`resolve_mapping`).
    mapping_file: str | None = Field(
        default=None,
        pattern=MAPPING_FILE_NAME,
        max_length=255,
        description="a mapping file's name in the service's mappings directory (not a path)",
    )
    # The field map inline (the mapping file's format); wins over `mapping_file`.
    field_map: MappingConfig | None = None
    # The seed guide's feature flags (reverse_sync, sync_status, sync_severity): each one given
    # replaces the mapping's own. Only for integrations whose fields the mapping engine maps.
    features: FeatureFlags | None = None
    # Paused by an operator: its changes wait (held in order) and are delivered on resume.
    paused: bool = False
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Declared field maps: a platform field (canonical or `custom.<name>`) to a tool field,
    # with a direction and a value map or a text template (`syncmodel.fieldmaps`); checked
    # against the fields both sides list where they are written (the control API).
    field_maps: tuple[FieldMap, ...] = Field(default=(), max_length=200)
    # Field ownership by platform field (canonical or `custom.<name>`); None = the tool
    # type's defaults, {} = no rules.
    ownership: dict[PlatformFieldName, FieldOwnership] | None = None
    conflict_strategy: ConflictStrategy = ConflictStrategy.LAST_WRITE_WINS
    # Two sides changing one field within this many seconds (by their own clocks) conflict.
    conflict_window_s: float = Field(default=5.0, ge=0, le=86_400)
    # Requests per minute to the tool, shared by every worker; None = no limit of ours.
    rate_limit_per_minute: int | None = Field(default=None, gt=0, le=1_000_000)
    # Requests in flight to the tool from all workers together; None = the worker's default
    # (DELIVERY_CONCURRENCY).
    max_concurrency: int | None = Field(default=None, gt=0, le=10_000)
    # Only platform incidents matching it get a record in this tool; None = all of them.
    trigger: Trigger | None = None
    # Declare from the tool: an unlinked record of this tool matching `declare.when` makes a
    # platform incident, linked to it (`syncmodel.declare`); None = off.
    declare: Declare | None = None
    # What a reopen (closed -> open) does to the other side: reopen it, or only note it.
    reopen: ReopenPolicy = ReopenPolicy.REOPEN
    # Tool-specific settings: the tool's options model (`ToolTraits.options`) checks them at
    # load, and the connector reads them through it, typed.
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _forced_direction(cls, data: object) -> object:
        # A notifier only shows incidents: whatever the file says, nothing is taken in from it.
        traits = known(data.get("type")) if isinstance(data, dict) else None
        if isinstance(data, dict) and traits is not None and traits.direction is not None:
            return {**data, "direction": traits.direction.value}
        return data

    @field_validator("type")
    @classmethod
    def _registered(cls, tool: str) -> str:
        traits_of(tool)  # ValueError naming the registered types
        return tool

    @field_validator("features")
    @classmethod
    def _features_need_the_mapping(
        cls, features: FeatureFlags | None, info: ValidationInfo
    ) -> FeatureFlags | None:
        data = info.data
        if features is None or "type" not in data:
            return features
        if not maps_by_file(data["type"], data.get("mapping_file"), data.get("field_map")):
            raise ValueError(
                f"the flags switch fields of the field-mapping engine (a mapping file); "
                f"{data['type']} maps its fields in code, so they would change nothing"
            )
        return features

    @field_validator("field_maps")
    @classmethod
    def _field_maps_agree(
        cls, maps: tuple[FieldMap, ...], info: ValidationInfo
    ) -> tuple[FieldMap, ...]:
        tool = info.data.get("type")
        if maps and tool is not None and traits_of(tool).platform:
            raise ValueError("the platform maps no fields: field maps are an integration's")
        # Two maps writing one tool field (and the like) are the field check's to refuse
        # (the control API, `parse_config`): a JSON schema cannot say it.
        return maps

    @field_validator("options")
    @classmethod
    def _options_the_connector_reads(
        cls, options: dict[str, Any], info: ValidationInfo
    ) -> dict[str, Any]:
        tool = info.data.get("type")
        if tool is None:
            return options
        check_options(tool, traits_of(tool).options, options)
        return options

    @model_validator(mode="after")
    def _declare_sees_its_fields(self) -> IntegrationConfig:
        # A mapping file is read where the config is loaded: its side is checked there
        # (`declare_problems` after `resolve_mapping`).
        readable = self.mapping_file is None or self.field_map is not None
        if readable and (problems := declare_problems(self)):
            raise ValueError("; ".join(problems))
        return self

    def mapping(self) -> FieldMapping:
        """The side's field map, its declared `field_maps` over it. Reads no file: a
        `mapping_file` must have been read into `field_map` where the config was loaded
        (`resolve_mapping`)."""
        own = self._own_mapping()
        return DeclaredMapping(own, self.field_maps) if self.field_maps else own

    def _own_mapping(self) -> FieldMapping:
        if self.field_map is not None:
            mapping = FieldMapping(self.field_map)
        elif self.mapping_file is not None:
            raise MappingError(f"{self.id}: mapping file {self.mapping_file!r} was not read")
        elif (fixed := traits_of(self.type).fields) is not None:
            return tool_mapping(fixed)  # the connector maps its values in code
        else:
            mapping = FieldMapping(MappingConfig())
        if self.features is None:
            return mapping
        features = self.features.over(mapping.features)
        return FieldMapping(mapping.config.model_copy(update={"features": features}))

    def ownership_rules(self) -> dict[str, FieldOwnership]:
        if self.ownership is None:
            return default_ownership(self.type)
        return {str(k): v for k, v in self.ownership.items()}


def declare_problems(side: IntegrationConfig) -> list[str]:
    """The conditions of `side`'s declare rule naming a field it never sees
    (`syncmodel.declare.unseen_fields`); `side`'s mapping file must have been read."""
    if side.declare is None:
        return []
    return unseen_fields(side.declare, side.mapping().inbound_fields())


class SyncConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: IntegrationConfig
    integrations: tuple[IntegrationConfig, ...] = ()
    # The seed guide's `features` block at the top of the file: the flags of every integration
    # whose fields the mapping engine maps and that sets no `features` of its own.
    features: FeatureFlags | None = None
    # How long a fingerprint of our own write waits for its echo.
    echo_ttl_s: int = Field(default=600, gt=0)
    dedupe_ttl_s: int = Field(default=86_400, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _features_for_each_mapped_integration(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("features"), dict):
            return data
        flags = data["features"]
        if not set(flags) <= set(FeatureFlags.model_fields):
            return data  # the field's own validation names the unknown flag
        integrations = data.get("integrations") or ()
        if not isinstance(integrations, list | tuple):
            return data
        out: list[object] = []
        applied = False
        for side in integrations:
            if isinstance(side, IntegrationConfig):
                if maps_by_file(side.type, side.mapping_file, side.field_map):
                    applied = True
                    if side.features is None:
                        side = side.model_copy(update={"features": FeatureFlags(**flags)})
            elif isinstance(side, dict) and maps_by_file(
                side.get("type"), side.get("mapping_file"), side.get("field_map")
            ):
                applied = True
                side = {"features": flags, **side}
            out.append(side)
        if not applied:
            raise ValueError(
                "features: no integration maps its fields through the mapping engine "
                "(a mapping file), so the flags would change nothing"
            )
        return {**data, "integrations": out}

    def side(self, integration_id: str) -> IntegrationConfig | None:
        if integration_id == self.platform.id:
            return self.platform
        return next((i for i in self.integrations if i.id == integration_id), None)

    def by_type(self, tool: str) -> list[IntegrationConfig]:
        return [i for i in self.integrations if i.type == tool]


# Blocks of the seed guide's own config.json that mean something else here: the refusal says
# where that setting lives. The tools' own blocks come with their traits (`guide_keys`).
GUIDE_KEYS: Final[Mapping[str, str]] = {
    "verify_signature": "signatures are always verified; there is no switch",
    "secret": "a webhook secret is its side's `webhook_secret`",
    "logging": "the log level is the LOG_LEVEL environment variable",
    "performance": "limits are each integration's `rate_limit_per_minute` and `max_concurrency`",
}


def guide_keys() -> dict[str, str]:
    """The seed guide's blocks and what each means here: the general ones and the tools'."""
    tools = catalogue()
    hints: dict[str, str] = {}
    for tool in tools.types():
        traits = tools.traits(tool)
        hints.update(traits.guide_keys if traits is not None else {})
    return {**hints, **GUIDE_KEYS}


# Reads the mapping file of the given name (MappingError when it cannot be used).
MappingReader = Callable[[str], MappingConfig]


def resolve_mapping(side: IntegrationConfig, read: MappingReader) -> IntegrationConfig:
    """The side with its `mapping_file` (a name `read` turns into its content) read into
    `field_map`; an inline `field_map` wins and nothing is read. MappingError when the file
    is missing or is not a mapping file."""
    if side.mapping_file is None or side.field_map is not None:
        return side
    return side.model_copy(update={"field_map": read(side.mapping_file)})


def parse_config(raw: object, *, source: str, read: MappingReader) -> SyncConfig:
    """The sides file's content (`source` names it in errors), checked, with each side's
    `mapping_file` read through `read`. Raises ConfigError naming every key at fault (unknown
    keys included), never quoting a value."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    try:
        config = SyncConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc, guide_keys())}") from None
    # What the control API's field check refuses and needs no tool to see (the sides file
    # has no such check: its maps' fields are the tools' to know).
    problems = [p for i in config.integrations for p in duplicates(i.field_maps)]
    if problems:
        raise ConfigError(f"{source}: field_maps: " + "; ".join(problems))
    try:
        resolved = config.model_copy(
            update={
                "platform": resolve_mapping(config.platform, read),
                "integrations": tuple(resolve_mapping(i, read) for i in config.integrations),
            }
        )
    except MappingError as exc:
        raise MappingError(f"{source}: {exc}") from None
    if problems := [f"{i.id}: {p}" for i in resolved.integrations for p in declare_problems(i)]:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return resolved
