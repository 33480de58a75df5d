"""One active reconciler per side: a Redis lock per side (`syncstate.keys.reconcile_lease`),
taken by whichever replica asks first and renewed while it works the side. A replica that
dies stops renewing: its leases expire after `lease_s` and another replica takes them.

A renewal that fails for any reason (the lock expired and was taken, Redis unreachable)
counts as lost: the side's work stops at once, since the holder can no longer be sure it is
the only one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from incident_sync.reconciler import metrics
from incident_sync.syncstate import keys

log = logging.getLogger("reconciler.leases")


class Leases:
    def __init__(self, redis: Redis, tenant: str, lease_s: float, instance: str) -> None:
        self.redis = redis
        self.tenant = tenant
        self.lease_s = lease_s
        self.instance = instance
        # The lock's value: who holds it (readable by people), unique per process start.
        self.token = f"{instance}:{os.urandom(4).hex()}"
        self._held: dict[str, Lock] = {}

    @property
    def held(self) -> set[str]:
        return set(self._held)

    async def refresh(self, sides: Iterable[str]) -> tuple[set[str], set[str]]:
        """Renew the leases held, try to take the others; returns (gained, lost)."""
        wanted = set(sides)
        gained: set[str] = set()
        lost: set[str] = set()
        for side in sorted(set(self._held) - wanted):  # no longer configured
            await self._release(side)
            lost.add(side)
        for side in sorted(wanted):
            lock = self._held.get(side)
            if lock is not None:
                try:
                    await lock.reacquire()
                except Exception as exc:  # noqa: BLE001 - any doubt means not ours any more
                    log.warning("lease lost", extra={"side": side, "reason": repr(exc)})
                    del self._held[side]
                    lost.add(side)
                continue
            lock = Lock(
                self.redis,
                keys.reconcile_lease(self.tenant, side),
                timeout=self.lease_s,
                blocking=False,
                thread_local=False,
            )
            try:
                taken = await lock.acquire(blocking=False, token=self.token)
            except Exception as exc:  # noqa: BLE001 - Redis away: try again next round
                log.warning("lease not taken", extra={"side": side, "reason": repr(exc)})
                continue
            if taken:
                self._held[side] = lock
                gained.add(side)
                log.info("lease taken", extra={"side": side, "holder": self.token})
        for side in wanted | lost:
            metrics.LEASES.labels(side).set(1 if side in self._held else 0)
        return gained, lost

    async def _release(self, side: str) -> None:
        lock = self._held.pop(side)
        try:
            await lock.release()
        except Exception as exc:  # noqa: BLE001 - it expires by itself
            log.info("lease release failed", extra={"side": side, "reason": repr(exc)})

    async def release_all(self) -> None:
        """On a clean stop: let another replica take over at once, not after `lease_s`."""
        for side in list(self._held):
            await self._release(side)
            metrics.LEASES.labels(side).set(0)
