"""The comment id map in Redis, per platform incident and side.

`is:{t}:comments:{incident}:{side}` is a hash holding, for that side:
- `copy:{target side}:{comment id}` -> the target's id of the copy we made of that comment
  ("" where the target's tool gives comments no id), `text:{target side}:{comment id}` -> a
  digest of the text that copy holds (an edit arriving twice is written once);
  `src:{comment id}` marks a comment copied at least once (a redelivered "added" is
  recognised at the gate);
- `of:{comment id}` -> `{source side}:{source comment id}` for a copy we wrote on that side,
  so its echo (or a later change to it) is recognised by id.
Side ids never contain ':', so the first ':' of an `of:` value splits it. No TTL: the map
lives as long as the incident's links.
"""

from __future__ import annotations

from redis.asyncio import Redis

from syncmodel.comments import COMMENT
from syncmodel.echo import fingerprint


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _key(tenant: str, platform_incident_id: str, side: str) -> str:
    return f"is:{tenant}:comments:{platform_incident_id}:{side}"


class CommentMap:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def copy_of(
        self, tenant: str, pid: str, source: str, source_id: str, target: str
    ) -> str | None:
        """The target's id of our copy of a source comment ("" = copied, no id; None = not
        copied)."""
        value = await self.redis.hget(_key(tenant, pid, source), f"copy:{target}:{source_id}")
        return _s(value) if value is not None else None

    async def was_copied(self, tenant: str, pid: str, source: str, source_id: str) -> bool:
        return bool(await self.redis.hexists(_key(tenant, pid, source), f"src:{source_id}"))

    async def origin_of(self, tenant: str, pid: str, side: str, comment_id: str) -> str | None:
        """`{source side}:{source id}` when this comment on `side` is a copy we wrote."""
        value = await self.redis.hget(_key(tenant, pid, side), f"of:{comment_id}")
        return _s(value) if value is not None else None

    async def record_copy(
        self,
        tenant: str,
        pid: str,
        source: str,
        source_id: str,
        target: str,
        target_id: str | None,
        text: str | None = None,
    ) -> None:
        entries = {f"copy:{target}:{source_id}": target_id or "", f"src:{source_id}": "1"}
        if text is not None:
            entries[f"text:{target}:{source_id}"] = fingerprint(COMMENT, text)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(_key(tenant, pid, source), mapping=entries)  # type: ignore[arg-type]
            if target_id:
                pipe.hset(_key(tenant, pid, target), f"of:{target_id}", f"{source}:{source_id}")
            await pipe.execute()

    async def holds_text(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str
    ) -> bool:
        """Whether our copy on `target` already shows this text."""
        value = await self.redis.hget(_key(tenant, pid, source), f"text:{target}:{source_id}")
        return value is not None and _s(value) == fingerprint(COMMENT, text)

    async def edited(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str
    ) -> None:
        field = f"text:{target}:{source_id}"
        await self.redis.hset(_key(tenant, pid, source), field, fingerprint(COMMENT, text))

    async def forget_copy(
        self, tenant: str, pid: str, source: str, source_id: str, target: str
    ) -> None:
        """A copy that is gone (deleted with its source). The `of:` entry stays, so the echo
        of the delete is still recognised as ours."""
        key = _key(tenant, pid, source)
        await self.redis.hdel(key, f"copy:{target}:{source_id}", f"text:{target}:{source_id}")

    async def forget_side(self, tenant: str, pid: str, side: str) -> None:
        """The side's record was deleted: its comments went with it."""
        await self.redis.delete(_key(tenant, pid, side))
