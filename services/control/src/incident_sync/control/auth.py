"""API tokens: random, shown once, stored as their SHA-256 (they carry 256 bits of entropy,
so a fast hash is enough); sent as `Authorization: Bearer <token>`.

A token is `ims_<id>_<secret>`: the id names it in lists and the audit trail. Its subject has
a role and a scope (tenants, `*` for all, and/or `tenant/integration` names). The bootstrap
token (`CONTROL_BOOTSTRAP_TOKEN`) is a platform.administrator that lives only in the
environment, for the first start and for break-glass.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

import orjson
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from incident_sync.controlstore.records import utcnow
from incident_sync.syncstate import keys

BOOTSTRAP_ID: Final = "bootstrap"


class Role(StrEnum):
    ADMIN = "platform.administrator"
    MANAGER = "integration.manager"
    COMMANDER = "incident_commander"
    VIEWER = "viewer"


_NAME_PART = "[a-z0-9][a-z0-9-]{0,62}"
_TENANT = rf"^(\*|{_NAME_PART})$"
_INTEGRATION = rf"^{_NAME_PART}/{_NAME_PART}$"


class Scope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenants: list[Annotated[str, Field(pattern=_TENANT)]] = Field(
        default_factory=list, description='tenant names, or "*" for all'
    )
    integrations: list[Annotated[str, Field(pattern=_INTEGRATION)]] = Field(
        default_factory=list, description='"tenant/integration" names'
    )


class Subject(BaseModel):
    """Who is calling, as the policy sees it."""

    model_config = ConfigDict(frozen=True)

    authenticated: bool = True
    id: str
    name: str
    role: Role | None = None
    scope: Scope = Scope()


ANONYMOUS: Final = Subject(authenticated=False, id="anonymous", name="anonymous")


class TokenRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    scope: Scope = Scope()
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""
    digest: str = Field(default="", exclude=True)

    def subject(self) -> Subject:
        return Subject(id=self.id, name=self.name, role=self.role, scope=self.scope)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, redis: Redis, bootstrap: str | None) -> None:
        self.redis = redis
        self._bootstrap = digest(bootstrap) if bootstrap else None

    async def authenticate(self, token: str) -> Subject | None:
        return await self.authenticate_digest(digest(token))

    async def authenticate_digest(self, hashed: str) -> Subject | None:
        """The subject of the token whose SHA-256 is `hashed` (a console session keeps only
        that), or None once it is revoked."""
        if self._bootstrap is not None and hmac.compare_digest(hashed, self._bootstrap):
            return Subject(
                id=BOOTSTRAP_ID, name=BOOTSTRAP_ID, role=Role.ADMIN, scope=Scope(tenants=["*"])
            )
        token_id = await self.redis.get(keys.token_by_hash(hashed))
        if token_id is None:
            return None
        raw = await self.redis.hget(keys.TOKENS, token_id)
        if raw is None:
            return None
        return TokenRecord.model_validate_json(raw).subject()

    async def create(
        self, name: str, role: Role, scope: Scope, created_by: str
    ) -> tuple[str, TokenRecord]:
        token_id = secrets.token_hex(6)
        token = f"ims_{token_id}_{secrets.token_urlsafe(32)}"
        record = TokenRecord(
            id=token_id,
            name=name,
            role=role,
            scope=scope,
            created_by=created_by,
            digest=digest(token),
        )
        stored = {**record.model_dump(mode="json"), "digest": record.digest}
        # Cluster-wide keys, one command each (they share no slot): the lookup first, so the
        # token works only once its record is there; a crash between leaves a lookup naming
        # no record, which authenticates nobody.
        await self.redis.set(keys.token_by_hash(record.digest), token_id)
        await self.redis.hset(keys.TOKENS, token_id, orjson.dumps(stored))
        return token, record

    async def list(self) -> list[TokenRecord]:
        raw = await self.redis.hgetall(keys.TOKENS)
        records = [TokenRecord.model_validate_json(v) for v in raw.values()]
        return sorted(records, key=lambda r: r.created_at)

    async def revoke(self, token_id: str) -> TokenRecord | None:
        raw = await self.redis.hget(keys.TOKENS, token_id)
        if raw is None:
            return None
        record = TokenRecord.model_validate_json(raw)
        stored_digest = orjson.loads(raw).get("digest", "")
        # The record first: the token stops working at once; the lookup left by a crash
        # between names no record.
        await self.redis.hdel(keys.TOKENS, token_id)
        await self.redis.delete(keys.token_by_hash(stored_digest))
        return record
