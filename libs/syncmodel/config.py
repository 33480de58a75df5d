"""Runtime configuration of the sides: the platform connection and each integration.

Two sources build the same `SyncConfig`: one JSON file (`INCIDENT_SYNC_CONFIG`; `${VAR}` in a
string value is replaced by that environment variable so secrets can come from a Kubernetes
Secret), or the control store in Redis (`controlstore.source`, written by the control API).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from syncmodel.fields import ConflictStrategy, Direction, ReopenPolicy, ToolType
from syncmodel.mapping import (
    MAPPING_FILE_NAME,
    FieldMapping,
    MappingConfig,
    MappingError,
    read_named_mapping,
)
from syncmodel.ownership import FieldOwnership, default_ownership
from syncmodel.toolfields import tool_mapping
from syncmodel.trigger import Trigger

# The credentials and webhook secret: encrypted at rest, write-only in the control API.
SECRET_FIELDS: tuple[str, ...] = ("api_key", "password", "oauth_client_secret", "webhook_secret")


class IntegrationConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    type: ToolType
    tenant: str = "default"
    base_url: str
    # incident.io: API key; ServiceNow: password (basic) or client secret (OAuth).
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
    # Paused by an operator: its changes wait (held in order) and are delivered on resume.
    paused: bool = False
    timeout_s: float = 10.0
    # Field ownership by canonical field; None = the tool type's defaults, {} = no rules.
    ownership: dict[str, FieldOwnership] | None = None
    conflict_strategy: ConflictStrategy = ConflictStrategy.LAST_WRITE_WINS
    # Two sides changing one field within this many seconds (by their own clocks) conflict.
    conflict_window_s: float = Field(default=5.0, ge=0)
    # Requests per minute to the tool, shared by every worker; None = no limit of ours.
    rate_limit_per_minute: int | None = Field(default=None, gt=0)
    # Requests in flight to the tool from all workers together; None = the worker's default
    # (DELIVERY_CONCURRENCY).
    max_concurrency: int | None = Field(default=None, gt=0)
    # Only platform incidents matching it get a record in this tool; None = all of them.
    trigger: Trigger | None = None
    # What a reopen (closed -> open) does to the other side: reopen it, or only note it.
    reopen: ReopenPolicy = ReopenPolicy.REOPEN
    # Tool-specific settings, documented by each connector (e.g. ServiceNow
    # `correlation_field`, incident.io `comment_custom_field`).
    options: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _notifiers_are_outbound(cls, data: object) -> object:
        # Slack only shows incidents: whatever the file says, nothing is taken in from it.
        if isinstance(data, dict) and data.get("type") == ToolType.SLACK.value:
            return {**data, "direction": Direction.OUTBOUND.value}
        return data

    def mapping(self) -> FieldMapping:
        """The side's field map. Reads no file: a `mapping_file` must have been read into
        `field_map` where the config was loaded (`resolve_mapping`)."""
        if self.field_map is not None:
            return FieldMapping(self.field_map)
        if self.mapping_file is not None:
            raise MappingError(f"{self.id}: mapping file {self.mapping_file!r} was not read")
        if (fixed := tool_mapping(self.type)) is not None:
            return fixed  # Jira, PagerDuty, Datadog, Slack map their values in code
        return FieldMapping(MappingConfig())

    def ownership_rules(self) -> dict[str, FieldOwnership]:
        if self.ownership is None:
            return default_ownership(self.type)
        return dict(self.ownership)


class SyncConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: IntegrationConfig
    integrations: tuple[IntegrationConfig, ...] = ()
    # How long a fingerprint of our own write waits for its echo.
    echo_ttl_s: int = 600
    dedupe_ttl_s: int = 86_400

    def side(self, integration_id: str) -> IntegrationConfig | None:
        if integration_id == self.platform.id:
            return self.platform
        return next((i for i in self.integrations if i.id == integration_id), None)

    def by_type(self, tool: ToolType) -> list[IntegrationConfig]:
        return [i for i in self.integrations if i.type is tool]


_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def _expand(value: object) -> object:
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def resolve_mapping(side: IntegrationConfig, mappings_dir: str | Path) -> IntegrationConfig:
    """The side with its `mapping_file` (a name inside `mappings_dir`) read into `field_map`;
    an inline `field_map` wins and the file is not read. MappingError when the file is
    missing or is not a mapping file."""
    if side.mapping_file is None or side.field_map is not None:
        return side
    field_map = read_named_mapping(mappings_dir, side.mapping_file)
    return side.model_copy(update={"field_map": field_map})


def load_config(path: str | Path, *, mappings_dir: str | Path) -> SyncConfig:
    """Read the config file; each `mapping_file` names a file inside `mappings_dir`."""
    path = Path(path)
    raw = _expand(orjson.loads(path.read_bytes()))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object")
    config = SyncConfig.model_validate(raw)
    try:
        return config.model_copy(
            update={
                "platform": resolve_mapping(config.platform, mappings_dir),
                "integrations": tuple(
                    resolve_mapping(i, mappings_dir) for i in config.integrations
                ),
            }
        )
    except MappingError as exc:
        raise MappingError(f"{path}: {exc} (mappings directory {mappings_dir})") from None
