"""The control service's side of the store: read and write sides, audit, key rotation.

Every write of a side is one Redis transaction (WATCH on the tenant's records): the record,
the tenant index, the tenant's config version (running services reload when it moves) and
the audit entry land together or not at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from incident_sync.controlstore.crypto import Keyring, KeyringError
from incident_sync.controlstore.records import (
    Kind,
    StoredSide,
    destination_change,
    open_secrets,
    public_view,
    reseal,
    utcnow,
)
from incident_sync.syncstate import keys

AUDIT_MAXLEN: Final = 100_000


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Actor:
    """Who acts: the token's id and name and its role."""

    id: str
    name: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role}


# Return the new record, None to delete it, or the current one unchanged for "nothing to do".
Mutation = Callable[[StoredSide | None], StoredSide | None]


@dataclass(frozen=True)
class WriteResult:
    before: StoredSide | None
    after: StoredSide | None
    changed: bool


def audit_entry(
    actor: Actor,
    action: str,
    tenant: str | None,
    resource: Mapping[str, Any],
    before: Any = None,
    after: Any = None,
) -> dict[str, Any]:
    return {
        "id": f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}",
        "at": utcnow().isoformat(timespec="milliseconds"),
        "actor": actor.as_dict(),
        "action": action,
        "tenant": tenant,
        "resource": dict(resource),
        "before": before,
        "after": after,
    }


async def append_audit(redis: Redis, tenant: str | None, entry: Mapping[str, Any]) -> None:
    """Append an entry (`audit_entry`) to `tenant`'s audit trail (None: the system's); what
    the control service records, and the reconciler for the links a job makes."""
    stream = keys.audit(tenant) if tenant else keys.SYSTEM_AUDIT
    await redis.xadd(stream, {"e": orjson.dumps(entry)}, maxlen=AUDIT_MAXLEN, approximate=True)


def changed_secrets(
    before: StoredSide | None, after: StoredSide | None, keyring: Keyring
) -> list[str]:
    """The secrets whose value changed (set, cleared or replaced); one only sealed again
    (for a new address or name) is the same secret."""
    old = before.secrets if before else {}
    new = after.secrets if after else {}
    changed = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) == new.get(field):
            continue
        if before is not None and after is not None and field in old and field in new:
            try:
                if open_secrets(before, keyring, (field,)) == open_secrets(
                    after, keyring, (field,)
                ):
                    continue
            except KeyringError:
                pass  # one of them does not open: it is not the same secret
        changed.append(field)
    return changed


class ControlStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.redis = redis
        self.keyring = keyring

    # -- reads -------------------------------------------------------------------------------
    async def tenants(self) -> list[str]:
        return sorted(_s(t) for t in await self.redis.smembers(keys.TENANTS))

    async def integration(self, tenant: str, name: str) -> StoredSide | None:
        raw = await self.redis.hget(keys.integrations(tenant), name)
        return StoredSide.decode(raw) if raw else None

    async def integrations(self, tenant: str) -> list[StoredSide]:
        raw = await self.redis.hgetall(keys.integrations(tenant))
        return sorted((StoredSide.decode(v) for v in raw.values()), key=lambda s: s.name)

    async def platform(self, tenant: str) -> StoredSide | None:
        raw = await self.redis.get(keys.platform(tenant))
        return StoredSide.decode(raw) if raw else None

    async def version(self, tenant: str) -> int:
        return int(await self.redis.get(keys.version(tenant)) or 0)

    # -- writes ------------------------------------------------------------------------------
    async def write(
        self,
        tenant: str,
        kind: Kind,
        name: str,
        mutate: Mutation,
        actor: Actor,
        action: str,
    ) -> WriteResult:
        """Apply `mutate` to the current record atomically, with its audit entry."""
        hash_key = keys.integrations(tenant)
        watched = hash_key if kind == "integration" else keys.platform(tenant)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    # Both are watched: a write of either kind checks the other's name clash.
                    await pipe.watch(hash_key, keys.platform(tenant))
                    if kind == "integration":
                        raw = await pipe.hget(hash_key, name)
                    else:
                        raw = await pipe.get(watched)
                    before = StoredSide.decode(raw) if raw else None
                    after = mutate(before)
                    if after is before or (after is not None and after.same_content(before)):
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return WriteResult(before, before, changed=False)
                    if after is not None:
                        revision = before.meta.revision + 1 if before else 1
                        after = after.model_copy(
                            update={
                                "meta": after.meta.model_copy(
                                    update={
                                        "revision": revision,
                                        "created_at": (
                                            before.meta.created_at if before else utcnow()
                                        ),
                                        "created_by": before.meta.created_by
                                        if before
                                        else actor.name,
                                        "updated_at": utcnow(),
                                        "updated_by": actor.name,
                                    }
                                )
                            }
                        )
                    entry = audit_entry(
                        actor,
                        action,
                        tenant,
                        {"kind": kind, "name": name},
                        public_view(before) if before else None,
                        public_view(after) if after else None,
                    )
                    if changed := changed_secrets(before, after, self.keyring):
                        entry["secrets_changed"] = changed
                    moved = destination_change(before, after) if before and after else None
                    if moved:
                        entry["destination_changed"] = moved
                    # The tenant index is cluster-wide (another slot than the tenant's keys):
                    # its own command, before the transaction, so a tenant with config is
                    # always listed (listed with none, when the transaction loses, is harmless).
                    await self.redis.sadd(keys.TENANTS, tenant)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if kind == "integration":
                        if after is None:
                            pipe.hdel(hash_key, name)
                        else:
                            pipe.hset(hash_key, name, after.encode())
                    elif after is None:
                        pipe.delete(watched)
                    else:
                        pipe.set(watched, after.encode())
                    pipe.incr(keys.version(tenant))
                    pipe.xadd(
                        keys.audit(tenant),
                        {"e": orjson.dumps(entry)},
                        maxlen=AUDIT_MAXLEN,
                        approximate=True,
                    )
                    await pipe.execute()
                    return WriteResult(before, after, changed=True)
                except WatchError:
                    continue

    async def name_taken(self, tenant: str, name: str, kind: Kind) -> bool:
        """Is `name` used by the other kind of side in this tenant (ids must be unique)?"""
        if kind == "integration":
            platform = await self.platform(tenant)
            return platform is not None and platform.name == name
        return bool(await self.redis.hexists(keys.integrations(tenant), name))

    # -- audit -------------------------------------------------------------------------------
    async def record(self, tenant: str | None, entry: Mapping[str, Any]) -> None:
        await append_audit(self.redis, tenant, entry)

    async def audit(
        self,
        tenant: str | None,
        *,
        limit: int = 50,
        action: str | None = None,
        name: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first, filtered; reads back in pages until `limit` entries match."""
        stream = keys.audit(tenant) if tenant else keys.SYSTEM_AUDIT
        out: list[dict[str, Any]] = []
        end = "+"
        while len(out) < limit:
            page = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                await self.redis.xrevrange(stream, max=end, count=200),
            )
            if not page:
                break
            for _id, fields in page:
                entry = orjson.loads(fields[b"e"])
                if since is not None and datetime.fromisoformat(entry["at"]) < since:
                    return out
                if action and entry["action"] != action:
                    continue
                if name and entry.get("resource", {}).get("name") != name:
                    continue
                out.append(entry)
                if len(out) >= limit:
                    break
            end = "(" + _s(page[-1][0])
        return out

    # -- keys --------------------------------------------------------------------------------
    async def _all_records(self) -> list[tuple[str, Kind, str]]:
        out: list[tuple[str, Kind, str]] = []
        for tenant in await self.tenants():
            if await self.redis.exists(keys.platform(tenant)):
                platform = await self.platform(tenant)
                if platform is not None:
                    out.append((tenant, "platform", platform.name))
            for name in await self.redis.hkeys(keys.integrations(tenant)):
                out.append((tenant, "integration", _s(name)))
        return out

    async def key_usage(self) -> dict[str, int]:
        """How many sealed secrets each key id holds."""
        usage: dict[str, int] = {}
        for tenant, kind, name in await self._all_records():
            stored = await (
                self.integration(tenant, name) if kind == "integration" else self.platform(tenant)
            )
            for sealed in (stored.secrets if stored else {}).values():
                kid = Keyring.sealed_with(sealed)
                usage[kid] = usage.get(kid, 0) + 1
        return usage

    async def rotate(self, on_progress: Callable[[str], Awaitable[None]] | None = None) -> int:
        """Re-seal every secret under the primary key; returns how many records changed.

        Each record is re-sealed in its own transaction, so readers always find a record
        that opens with the keyring (old keys stay in it until this is done).
        """
        changed = 0
        for tenant, kind, name in await self._all_records():
            hash_key = keys.integrations(tenant)
            key = hash_key if kind == "integration" else keys.platform(tenant)
            while True:
                async with self.redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(key)
                        raw = await (
                            pipe.hget(key, name) if kind == "integration" else pipe.get(key)
                        )
                        if not raw:
                            break
                        fresh = reseal(StoredSide.decode(raw), self.keyring)
                        if fresh is None:
                            break
                        pipe.multi()  # type: ignore[no-untyped-call]
                        if kind == "integration":
                            pipe.hset(key, name, fresh.encode())
                        else:
                            pipe.set(key, fresh.encode())
                        await pipe.execute()
                        changed += 1
                        if on_progress is not None:
                            await on_progress(f"{tenant}/{name}")
                        break
                    except WatchError:
                        continue
                    except KeyringError as exc:
                        raise KeyringError(f"{tenant}/{kind}/{name}: {exc}") from None
        return changed
