"""The control service's settings, from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from incident_sync.runtime.settings import checkout_root, default_mappings_dir


def default_policy_file() -> str:
    """deploy/policy/control.rego of this checkout (a deployment mounts its own file)."""
    return str(checkout_root() / "deploy" / "policy" / "control.rego")


class ControlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL")
    http_host: str = Field("0.0.0.0", alias="HTTP_HOST")  # noqa: S104 - a pod listens on all
    http_port: int = Field(8090, alias="HTTP_PORT")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    # AES-GCM keys (base64url, 32 bytes), comma-separated, the first one seals.
    encryption_keys: SecretStr | None = Field(None, alias="CONTROL_ENCRYPTION_KEYS")
    # A platform.administrator token that needs no store (first start, break-glass).
    bootstrap_token: SecretStr | None = Field(None, alias="CONTROL_BOOTSTRAP_TOKEN")
    policy_file: str = Field(default_factory=default_policy_file, alias="CONTROL_POLICY_FILE")
    # A sides file (the INCIDENT_SYNC_CONFIG format) imported once into an empty store.
    seed_file: str | None = Field(None, alias="CONTROL_SEED_FILE")
    # Where an integration's `mapping_file` is looked up (by name) when it is written, tested
    # or seeded: the same directory the pipeline's services read (MAPPINGS_DIR).
    mappings_dir: str = Field(default_factory=default_mappings_dir, alias="MAPPINGS_DIR")
    # How long a connection test may take.
    test_timeout_s: float = Field(10.0, gt=0, alias="CONTROL_TEST_TIMEOUT_S")
    # The incidents' timelines (`syncstate.timeline`), as the pipeline's services keep them.
    timeline_max_entries: int = Field(500, ge=1, le=100_000, alias="TIMELINE_MAX_ENTRIES")
    timeline_retention_s: int = Field(7 * 24 * 3600, ge=60, alias="TIMELINE_RETENTION_S")
    # The web console's sessions (/console): idle expiry, renewed by each request.
    console_session_ttl_s: int = Field(
        8 * 3600, ge=60, le=7 * 24 * 3600, alias="CONSOLE_SESSION_TTL_S"
    )
    # Send the session cookie with `Secure` (behind TLS); off for plain-HTTP local runs.
    console_secure_cookie: bool = Field(False, alias="CONSOLE_SECURE_COOKIE")
