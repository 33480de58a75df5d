"""The comment id map in Redis, per platform incident and side.

`is:{t}:comments:{incident}:{side}` is a hash holding, for that side:
- `copy:{target side}:{comment id}` -> the target's id of the copy we made of that comment
  ("" where the target's tool gives comments no id), `text:{target side}:{comment id}` -> a
  digest of the text that copy holds (an edit arriving twice is written once);
  `src:{comment id}` marks a comment copied at least once (a redelivered "added" is
  recognised at the gate);
- `of:{comment id}` -> `{source side}:{source comment id}` for a copy we wrote on that side,
  so its echo (or a later change to it) is recognised by id.
While a copy is being written (between the request and mapping its id): `want:{target side}:
{comment id}` on the source's hash -> when the write was sent, and `wanted:{digest of the
text}` on the target's -> `{source side}:{source comment id}`. Should the worker die or the
request time out in between, the tool's echo of the copy is adopted as the copy (the gate maps
it), and the retry finds it mapped instead of writing a second one.
Side ids never contain ':', so the first ':' of an `of:` value splits it. No TTL: the map
lives as long as the incident's links.
"""

from __future__ import annotations

from redis.asyncio import Redis

from incident_sync.syncmodel.comments import COMMENT
from incident_sync.syncmodel.echo import fingerprint
from incident_sync.syncstate import keys


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class CommentMap:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def copy_of(
        self, tenant: str, pid: str, source: str, source_id: str, target: str
    ) -> str | None:
        """The target's id of our copy of a source comment ("" = copied, no id; None = not
        copied)."""
        value = await self.redis.hget(
            keys.comments(tenant, pid, source), f"copy:{target}:{source_id}"
        )
        return _s(value) if value is not None else None

    async def was_copied(self, tenant: str, pid: str, source: str, source_id: str) -> bool:
        return bool(
            await self.redis.hexists(keys.comments(tenant, pid, source), f"src:{source_id}")
        )

    async def origin_of(self, tenant: str, pid: str, side: str, comment_id: str) -> str | None:
        """`{source side}:{source id}` when this comment on `side` is a copy we wrote."""
        value = await self.redis.hget(keys.comments(tenant, pid, side), f"of:{comment_id}")
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
            pipe.hset(keys.comments(tenant, pid, source), mapping=entries)  # type: ignore[arg-type]
            pipe.hdel(keys.comments(tenant, pid, source), f"want:{target}:{source_id}")
            if target_id:
                pipe.hset(
                    keys.comments(tenant, pid, target), f"of:{target_id}", f"{source}:{source_id}"
                )
            if text is not None:
                pipe.hdel(
                    keys.comments(tenant, pid, target), f"wanted:{fingerprint(COMMENT, text)}"
                )
            await pipe.execute()

    # -- a copy on its way -------------------------------------------------------------------
    async def intend(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str, at: float
    ) -> None:
        """A copy of the source comment is about to be written on `target` (at unix time `at`)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.comments(tenant, pid, source), f"want:{target}:{source_id}", repr(at))
            wanted = f"wanted:{fingerprint(COMMENT, text)}"
            pipe.hset(keys.comments(tenant, pid, target), wanted, f"{source}:{source_id}")
            await pipe.execute()

    async def intended_at(
        self, tenant: str, pid: str, source: str, source_id: str, target: str
    ) -> float | None:
        """When a write of this copy was sent whose outcome is unknown (None: there is none)."""
        value = await self.redis.hget(
            keys.comments(tenant, pid, source), f"want:{target}:{source_id}"
        )
        return float(_s(value)) if value is not None else None

    async def drop_intent(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str
    ) -> None:
        """The tool refused the write: nothing was written."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.comments(tenant, pid, source), f"want:{target}:{source_id}")
            pipe.hdel(keys.comments(tenant, pid, target), f"wanted:{fingerprint(COMMENT, text)}")
            await pipe.execute()

    async def adopt(self, tenant: str, pid: str, side: str, comment_id: str, text: str) -> bool:
        """The echo of a copy we wrote but never mapped: map it now. True if it was one."""
        wanted = f"wanted:{fingerprint(COMMENT, text)}"
        value = await self.redis.hget(keys.comments(tenant, pid, side), wanted)
        if value is None:
            return False
        source, source_id = _s(value).split(":", 1)
        await self.record_copy(tenant, pid, source, source_id, side, comment_id, text)
        return True

    async def holds_text(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str
    ) -> bool:
        """Whether our copy on `target` already shows this text."""
        value = await self.redis.hget(
            keys.comments(tenant, pid, source), f"text:{target}:{source_id}"
        )
        return value is not None and _s(value) == fingerprint(COMMENT, text)

    async def edited(
        self, tenant: str, pid: str, source: str, source_id: str, target: str, text: str
    ) -> None:
        field = f"text:{target}:{source_id}"
        await self.redis.hset(keys.comments(tenant, pid, source), field, fingerprint(COMMENT, text))

    async def forget_copy(
        self, tenant: str, pid: str, source: str, source_id: str, target: str
    ) -> None:
        """A copy that is gone (deleted with its source). The `of:` entry stays, so the echo
        of the delete is still recognised as ours."""
        key = keys.comments(tenant, pid, source)
        await self.redis.hdel(key, f"copy:{target}:{source_id}", f"text:{target}:{source_id}")

    async def forget_side(self, tenant: str, pid: str, side: str) -> None:
        """The side's record was deleted: its comments went with it."""
        await self.redis.delete(keys.comments(tenant, pid, side))
