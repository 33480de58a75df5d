"""How one side (the platform or an integration) is stored: its config without secrets, the
secrets sealed one by one, and bookkeeping. Pure: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from controlstore.crypto import Keyring
from syncmodel.config import SECRET_FIELDS, IntegrationConfig

Kind = Literal["integration", "platform"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RecordMeta(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""
    updated_by: str = ""


class StoredSide(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind = "integration"
    config: dict[str, Any]  # IntegrationConfig, JSON mode, without the secret fields
    secrets: dict[str, str] = Field(default_factory=dict)  # field -> sealed value
    meta: RecordMeta = RecordMeta()

    @property
    def name(self) -> str:
        return str(self.config["id"])

    @property
    def tenant(self) -> str:
        return str(self.config.get("tenant", "default"))

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes | str) -> StoredSide:
        return cls.model_validate_json(raw)

    def secrets_set(self) -> dict[str, bool]:
        return {f: f in self.secrets for f in SECRET_FIELDS}

    def same_content(self, other: StoredSide | None) -> bool:
        """Same config and same sealed secrets (a re-seal of the same value differs)."""
        return other is not None and self.config == other.config and self.secrets == other.secrets


def aad(tenant: str, kind: Kind, name: str, field: str) -> bytes:
    return f"{tenant}/{kind}/{name}/{field}".encode()


def public_config(config: IntegrationConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude=set(SECRET_FIELDS))


def seal(
    config: IntegrationConfig,
    keyring: Keyring,
    *,
    kind: Kind,
    meta: RecordMeta | None = None,
) -> StoredSide:
    """Store `config`, each secret sealed to its slot."""
    secrets: dict[str, str] = {}
    for field in SECRET_FIELDS:
        value: SecretStr | None = getattr(config, field)
        if value is not None and value.get_secret_value():  # "" (an unset ${VAR}) is unset
            secrets[field] = keyring.seal(
                value.get_secret_value(), aad(config.tenant, kind, config.id, field)
            )
    return StoredSide(
        kind=kind, config=public_config(config), secrets=secrets, meta=meta or RecordMeta()
    )


def open_secrets(stored: StoredSide, keyring: Keyring) -> dict[str, str]:
    return {
        field: keyring.open(sealed, aad(stored.tenant, stored.kind, stored.name, field))
        for field, sealed in stored.secrets.items()
    }


def to_config(stored: StoredSide, keyring: Keyring) -> IntegrationConfig:
    """The side as the pipeline uses it, secrets opened."""
    return IntegrationConfig.model_validate({**stored.config, **open_secrets(stored, keyring)})


def public_view(stored: StoredSide) -> dict[str, Any]:
    """What may be shown or audited: the config, and only whether each secret is set."""
    return {
        **stored.config,
        "secrets": {f: ("set" if v else "unset") for f, v in stored.secrets_set().items()},
        "revision": stored.meta.revision,
    }


def reseal(stored: StoredSide, keyring: Keyring) -> StoredSide | None:
    """The record with every secret sealed under the primary key; None if it already is."""
    changed = False
    secrets = dict(stored.secrets)
    for field, sealed in stored.secrets.items():
        fresh = keyring.reseal(sealed, aad(stored.tenant, stored.kind, stored.name, field))
        if fresh is not None:
            secrets[field] = fresh
            changed = True
    return stored.model_copy(update={"secrets": secrets}) if changed else None
