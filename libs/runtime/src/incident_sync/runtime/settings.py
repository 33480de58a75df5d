"""Service settings from the environment (12-factor; a Kubernetes ConfigMap sets them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from incident_sync.syncmodel import sizes


def checkout_root() -> Path:
    """The checkout this module runs from (libs/runtime/src/incident_sync/runtime/ is five
    levels down). Only defaults for a checkout use it: an installed wheel has no checkout, and
    the image and the chart set every path it would give."""
    return Path(__file__).resolve().parents[5]


def default_mappings_dir() -> str:
    """config/ of this checkout; the image sets MAPPINGS_DIR (/app/config), the chart its
    mount (/etc/incident-sync/config)."""
    return str(checkout_root() / "config")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP")
    # Real Kafka: on. The embedded test broker cannot serve InitProducerId: off there.
    kafka_idempotence: bool = Field(True, alias="KAFKA_IDEMPOTENCE")
    kafka_topic_partitions: int = Field(6, alias="KAFKA_TOPIC_PARTITIONS")
    kafka_replication_factor: int = Field(1, alias="KAFKA_REPLICATION_FACTOR")
    kafka_session_timeout_s: float = Field(10.0, alias="KAFKA_SESSION_TIMEOUT_S")
    # How long a fetch may wait for data. Low, because a broker that does not answer a
    # fetch early when data arrives (the embedded test broker) adds up to this to every hop.
    kafka_fetch_max_wait_ms: int = Field(50, ge=1, alias="KAFKA_FETCH_MAX_WAIT_MS")
    # The largest record any stage produces or fetches (`syncmodel.sizes`): producers'
    # max_request_size, consumers' fetch sizes, the topics' max.message.bytes (the chart sets
    # both from one value). The ingress refuses (413) a change that could outgrow it.
    kafka_max_message_bytes: int = Field(
        sizes.DEFAULT_MAX_MESSAGE_BYTES,
        ge=sizes.MIN_MAX_MESSAGE_BYTES,
        alias="KAFKA_MAX_MESSAGE_BYTES",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL")
    config_path: str = Field("config/sync.json", alias="INCIDENT_SYNC_CONFIG")
    # The directory a side's `mapping_file` names a file in (a name, never a path).
    mappings_dir: str = Field(default_factory=default_mappings_dir, alias="MAPPINGS_DIR")
    # Where the sides come from: "file" (INCIDENT_SYNC_CONFIG) or "control" (the control
    # store in Redis, written through the control API; changes are picked up while running).
    config_source: Literal["file", "control"] = Field("file", alias="CONFIG_SOURCE")
    # The tenant this pipeline deployment serves (its platform and integrations).
    sync_tenant: str = Field("default", alias="SYNC_TENANT")
    # How often a running service checks the control store's config version.
    config_reload_s: float = Field(2.0, gt=0, alias="CONFIG_RELOAD_S")
    # Keys that open the secrets in the control store (first = primary); see controlstore.
    control_encryption_keys: SecretStr | None = Field(None, alias="CONTROL_ENCRYPTION_KEYS")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    # The incidents' timelines (`syncstate.timeline`): entries kept per incident, and how long
    # a timeline is kept after its last entry (and how old an entry a read still shows).
    timeline_max_entries: int = Field(500, ge=1, le=100_000, alias="TIMELINE_MAX_ENTRIES")
    timeline_retention_s: int = Field(7 * 24 * 3600, ge=60, alias="TIMELINE_RETENTION_S")
    # Ingress
    http_host: str = Field("0.0.0.0", alias="HTTP_HOST")  # noqa: S104 - a pod listens on all
    http_port: int = Field(8080, alias="HTTP_PORT")
    # The raw webhook body; what it may make of it is bounded by kafka_max_message_bytes.
    max_body_bytes: int = Field(1_048_576, alias="MAX_BODY_BYTES")
    producer_pool: int = Field(1, alias="KAFKA_PRODUCER_POOL")
    # Bearer token the manual-sync routes require. Unset (or empty): they refuse every call,
    # unless `sync_api_open` (development only) opens them to any caller.
    sync_api_token: SecretStr | None = Field(None, alias="SYNC_API_TOKEN")
    sync_api_open: bool = Field(False, alias="SYNC_API_OPEN")
