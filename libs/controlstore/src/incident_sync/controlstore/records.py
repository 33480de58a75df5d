"""How one side (the platform or an integration) is stored: its config without secrets, the
secrets sealed one by one, and bookkeeping. Pure: no I/O.

Each secret is sealed to its slot and its destination: the associated data is
`tenant/kind/name/field@origin`, the origin being that of the record's `base_url`. A record
whose address was changed behind the control API's back (in Redis) no longer opens, so no
service sends its secrets to the new address. Records written before that binding
(`binding` 1: `tenant/kind/name/field` only) still open, and are bound by their next write or
by a key rotation.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from incident_sync.controlstore.crypto import Keyring
from incident_sync.syncmodel.config import SECRET_FIELDS, IntegrationConfig
from incident_sync.syncmodel.destination import origin

Kind = Literal["integration", "platform"]
# 1: secrets sealed to their slot; 2: to their slot and the origin of `base_url`.
BINDING: Final = 2


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
    binding: int = 1  # what the secrets are sealed to (absent: records of before the binding)

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
        return (
            other is not None
            and self.config == other.config
            and self.secrets == other.secrets
            and self.binding == other.binding
        )


def aad(tenant: str, kind: Kind, name: str, field: str, destination: str | None = None) -> bytes:
    slot = f"{tenant}/{kind}/{name}/{field}"
    return (slot if destination is None else f"{slot}@{destination}").encode()


def slot(stored: StoredSide, field: str) -> bytes:
    """The associated data `stored`'s secret `field` is sealed with."""
    destination = origin(str(stored.config["base_url"])) if stored.binding >= 2 else None
    return aad(stored.tenant, stored.kind, stored.name, field, destination)


def destination_change(before: StoredSide, after: StoredSide) -> dict[str, str] | None:
    """`{"from": origin, "to": origin}` when `after` sends its credentials elsewhere."""
    old, new = origin(str(before.config["base_url"])), origin(str(after.config["base_url"]))
    return None if old == new else {"from": old, "to": new}


def public_config(config: IntegrationConfig) -> dict[str, Any]:
    # by alias: the keys a sides file uses (a trigger's `in`), which the config reads back
    return config.model_dump(mode="json", exclude=set(SECRET_FIELDS), by_alias=True)


def seal(
    config: IntegrationConfig,
    keyring: Keyring,
    *,
    kind: Kind,
    meta: RecordMeta | None = None,
) -> StoredSide:
    """Store `config`, each secret sealed to its slot and its destination."""
    destination = origin(config.base_url)
    secrets: dict[str, str] = {}
    for field in SECRET_FIELDS:
        value: SecretStr | None = getattr(config, field)
        if value is not None and value.get_secret_value():  # "" (an unset ${VAR}) is unset
            secrets[field] = keyring.seal(
                value.get_secret_value(), aad(config.tenant, kind, config.id, field, destination)
            )
    return StoredSide(
        kind=kind,
        config=public_config(config),
        secrets=secrets,
        meta=meta or RecordMeta(),
        binding=BINDING,
    )


def open_secrets(
    stored: StoredSide, keyring: Keyring, fields: Collection[str] | None = None
) -> dict[str, str]:
    """The secrets (those of `fields` only, if given) in plain text; KeyringError when one
    does not open (another key, another slot, or an address changed outside the API)."""
    return {
        field: keyring.open(sealed, slot(stored, field))
        for field, sealed in stored.secrets.items()
        if fields is None or field in fields
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
    """The record with every secret sealed under the primary key and bound to its destination;
    None if it already is."""
    if stored.binding < BINDING:
        bound = stored.model_copy(update={"binding": BINDING})
        secrets = {
            field: keyring.seal(plain, slot(bound, field))
            for field, plain in open_secrets(stored, keyring).items()
        }
        return bound.model_copy(update={"secrets": secrets})
    changed = False
    secrets = dict(stored.secrets)
    for field, sealed in stored.secrets.items():
        fresh = keyring.reseal(sealed, slot(stored, field))
        if fresh is not None:
            secrets[field] = fresh
            changed = True
    return stored.model_copy(update={"secrets": secrets}) if changed else None
