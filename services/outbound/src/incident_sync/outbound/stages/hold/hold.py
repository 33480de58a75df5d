"""Paused integrations: their commands wait, in order, and go out on resume.

A command for (or from) a paused integration is appended to a Redis stream per integration,
`is:{tenant}:held:{integration}`, and counts as done. While that stream has entries, every new
command of the integration is appended behind them, paused or not, so nothing overtakes. On
resume one worker (a lease, `...:lock`) lets them out oldest first: each is published again on
`sync.outbound` (acks=all, marked `released`, next hop) before it leaves the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from incident_sync.syncmodel import codec
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncstate import keys

log = logging.getLogger(__name__)

Send = Callable[[DeliveryCommand], Awaitable[None]]
BATCH = 100
LOCK_MS = 30_000


class Hold:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def governing(cmd: DeliveryCommand, config: SyncConfig) -> list[str]:
        """The integrations whose pause holds this command: its target, and the tool it
        came from (a paused integration's changes do not reach the platform either)."""
        out = [cmd.target_integration_id]
        if cmd.source_integration_id not in (config.platform.id, cmd.target_integration_id):
            out.append(cmd.source_integration_id)
        return out

    def q_depths(self, pipe: Pipeline, cmd: DeliveryCommand, config: SyncConfig) -> int:
        """Queues the reads `place` needs (with the caller's own); returns how many."""
        sides = self.governing(cmd, config)
        for side_id in sides:
            pipe.xlen(keys.held(cmd.tenant, side_id))
        return len(sides)

    async def place(
        self, cmd: DeliveryCommand, config: SyncConfig, depths: list[int] | None = None
    ) -> str | None:
        """Hold the command if it must wait; returns the integration it waits for.
        `depths`: the answers of `q_depths`, when read already."""
        sides = self.governing(cmd, config)
        for side_id in sides:
            side = config.side(side_id)
            if side is not None and side.paused:
                await self.add(cmd, side_id)
                return side_id
        if cmd.released:
            return None  # on its way out of a hold: the entries behind it are younger
        if depths is None:
            async with self.redis.pipeline(transaction=False) as pipe:
                self.q_depths(pipe, cmd, config)
                depths = await pipe.execute()
        for side_id, length in zip(sides, depths, strict=True):
            if length:
                await self.add(cmd, side_id)
                return side_id
        return None

    async def add(self, cmd: DeliveryCommand, integration_id: str) -> None:
        await self.redis.xadd(keys.held(cmd.tenant, integration_id), {"cmd": codec.encode(cmd)})

    async def depth(self, tenant: str, integration_id: str) -> int:
        return int(await self.redis.xlen(keys.held(tenant, integration_id)))

    async def release(
        self, tenant: str, integration_id: str, send: Send, still_open: Callable[[], bool]
    ) -> int:
        """Let the held commands out in order while `still_open()`; returns how many."""
        key = keys.held(tenant, integration_id)
        lock = keys.held_lock(tenant, integration_id)
        if not await self.redis.set(lock, b"1", nx=True, px=LOCK_MS):
            return 0  # another worker is at it
        released = 0
        try:
            while still_open():
                entries = cast(
                    list[tuple[bytes, dict[bytes, bytes]]],
                    await self.redis.xrange(key, count=BATCH),
                )
                if not entries:
                    break
                for entry_id, fields in entries:
                    if not still_open():
                        return released
                    cmd = codec.decode(DeliveryCommand, bytes(fields[b"cmd"]))
                    await send(cmd.model_copy(update={"released": True, "hop": cmd.hop + 1}))
                    await self.redis.xdel(key, entry_id)
                    released += 1
                await self.redis.pexpire(lock, LOCK_MS)
        finally:
            await self.redis.delete(lock)
            if released:
                log.info(
                    "held commands released",
                    extra={"integration": integration_id, "count": released},
                )
        return released
