"""What stands between the delivery and a tool: every request to a tool passes `Throttle.request`.

Before the request leaves:
1. the circuit breaker of the integration (purgatory, per worker): open -> no request until it
   half-opens, and then the next request is the probe;
2. the integration's rate limit, requests per minute shared by every worker (`limits`, moving
   window in Redis);
3. a tool's "not before" (Retry-After, rate-limit reset) learned by any worker, kept in Redis:
   no request to that tool before then; and the concurrency cap: at most N requests in flight
   to the tool from all workers (a lease in a Redis sorted set; a crashed worker's lease
   expires). Both in one round trip (a Lua script).
A short wait is waited out; otherwise `Deferred` says until when, and the caller parks
the command on a delayed topic without spending an attempt. Afterwards the outcome feeds the
breaker, and a Retry-After the tool sent blocks the tool for everyone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import count

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import Context as Circuit
from purgatory.domain.model import OpenedState
from redis.asyncio import Redis

from incident_sync.connectors.base import ToolError
from incident_sync.outbound.settings import DeliverySettings
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import rate_limit_storage

log = logging.getLogger(__name__)

CLOSED, HALF_OPEN, OPEN = 0, 1, 2  # incident_sync_circuit_state


class Deferred(Exception):  # an outcome, not an error
    """The request may not leave now; try the command again at `until` (unix time)."""

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(f"deferred until {until:.3f}: {reason}")
        self.until = until
        self.reason = reason  # blocked, circuit_open, rate_limited, concurrency, ...


def transient(exc: BaseException) -> bool:
    """A failure that says the tool is unwell: 5xx, timeouts, refused connections. A 429 is a
    healthy tool throttling us (handled by its Retry-After), a 4xx a refusal of this write."""
    return isinstance(exc, ToolError) and exc.retryable and exc.status != 429


# One round trip for the common case: refuses while the tool's "not before" (KEYS[1]) is
# ahead of ARGV[4] (unix time), else grants a lease unless `cap` leases are live.
# Answers {1} granted, {0} full, {2, until} blocked.
_ADMIT = """
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if blocked > tonumber(ARGV[4]) then
  return {2, tostring(blocked)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return {0}
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {1}
"""
# Moves a tool's "not before" later, never earlier.
_BLOCK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class Throttle:
    def __init__(
        self,
        redis: Redis,
        redis_url: str,
        settings: DeliverySettings,
        side: Callable[[str], IntegrationConfig | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.side = side
        self.clock = clock
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=settings.breaker_failures,
            default_ttl=settings.breaker_open_s,
            # Only a sick tool trips the breaker; any other exception ends the request as
            # an answer from a healthy one.
            exclude=[(ToolError, lambda e: not transient(e)), Exception],
        )
        self.circuits: dict[str, Circuit] = {}
        self.limiter = MovingWindowRateLimiter(
            rate_limit_storage(redis_url, socket_timeout=5, socket_connect_timeout=2)
        )
        self._admit = redis.register_script(_ADMIT)
        self._block = redis.register_script(_BLOCK)
        self._holder = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._ids = count()

    # -- the request -------------------------------------------------------------------------
    @asynccontextmanager
    async def request(self, tenant: str, integration_id: str) -> AsyncIterator[None]:
        side = self.side(integration_id)
        breaker = await self.breakers.get_breaker(integration_id)
        self.circuits[integration_id] = breaker.context
        reopen = self._reopens_at(breaker.context)
        if reopen is not None:
            raise Deferred(reopen + random.uniform(0, 0.2), "circuit_open")
        if side is not None and side.rate_limit_per_minute:
            await self._rate_limit(tenant, integration_id, side.rate_limit_per_minute)
        cap = side.max_concurrency if side and side.max_concurrency else self.settings.concurrency
        lease = await self._acquire(tenant, integration_id, cap, side)
        try:
            async with breaker:
                try:
                    yield
                except ToolError as exc:
                    if exc.retry_after_s is not None:
                        await self.block(tenant, integration_id, exc.retry_after_s)
                    raise
        except OpenedState:
            # Only entering raises it: another request opened the breaker while this one
            # waited for its lease. Deferred like any request that finds it open, not failed.
            reopen = self._reopens_at(breaker.context) or time.time()
            raise Deferred(reopen + random.uniform(0, 0.2), "circuit_open") from None
        finally:
            await self._release(tenant, integration_id, lease)

    # -- 1. the tool's own "not before" ------------------------------------------------------
    async def block(self, tenant: str, integration_id: str, seconds: float) -> None:
        """No request to the tool from any worker for `seconds` (clamped like the ladder)."""
        seconds = min(max(0.0, seconds), self.settings.retry_after_max_s)
        if seconds <= 0:
            return
        until = self.clock() + seconds
        ttl_ms = int(seconds * 1000) + 1000
        await self._block(keys=[keys.blocked(tenant, integration_id)], args=[until, ttl_ms])
        log.warning(
            "tool asked us to wait",
            extra={"integration": integration_id, "seconds": round(seconds, 3)},
        )

    async def blocked_until(self, tenant: str, integration_id: str) -> float | None:
        raw = await self.redis.get(keys.blocked(tenant, integration_id))
        until = float(raw) if raw is not None else 0.0
        return until if until > self.clock() else None

    async def _wait_blocked(self, until: float) -> None:
        """Wait out a short "not before" in place; a long one parks the command."""
        # A little after the stated time, so the crowd that waited does not arrive at once.
        wait = max(0.0, until - self.clock())
        at = until + random.uniform(0.0, 0.01 + 0.1 * wait)
        if wait > self.settings.inline_wait_max_s:
            raise Deferred(at, "blocked")
        await asyncio.sleep(max(0.0, at - self.clock()))  # short: not worth a trip via Kafka

    # -- 2. the circuit breaker -----------------------------------------------------------------
    def _reopens_at(self, circuit: Circuit) -> float | None:
        """While open: when it half-opens (the next request then probes)."""
        if circuit.state != "opened" or circuit.opened_at is None:
            return None
        at = circuit.opened_at + circuit.ttl
        return at if at > time.time() else None  # purgatory keeps its own clock

    def circuit_state(self, integration_id: str) -> int:
        """This worker's breaker for the integration (`incident_sync_circuit_state`): closed
        until a request found the tool sick."""
        circuit = self.circuits.get(integration_id)
        if circuit is None or circuit.state == "closed":
            return CLOSED
        if circuit.state == "half-opened" or self._reopens_at(circuit) is None:
            return HALF_OPEN
        return OPEN

    def half_opens_at(self, integration_id: str) -> float | None:
        """While this worker's breaker is open: when it half-opens (unix time)."""
        circuit = self.circuits.get(integration_id)
        return None if circuit is None else self._reopens_at(circuit)

    # -- 3. requests per minute -----------------------------------------------------------------
    async def _rate_limit(self, tenant: str, integration_id: str, per_minute: int) -> None:
        item = RateLimitItemPerMinute(per_minute)
        while not await self.limiter.hit(item, tenant, integration_id):
            stats = await self.limiter.get_window_stats(item, tenant, integration_id)
            wait = max(0.01, stats.reset_time - self.clock())
            if wait > self.settings.inline_wait_max_s:
                raise Deferred(self.clock() + wait + random.uniform(0, 1.0), "rate_limited")
            await asyncio.sleep(wait)

    # -- 1 and 4. the tool's "not before", then a lease for a request in flight -------------
    async def _acquire(
        self, tenant: str, integration_id: str, cap: int, side: IntegrationConfig | None
    ) -> str:
        holder = f"{self._holder}-{next(self._ids)}"
        # A lease outlives the request's own timeout, so a crashed worker's expires.
        lease_ms = int(((side.timeout_s if side else 10.0) + 5.0) * 1000)
        touched = [keys.blocked(tenant, integration_id), keys.inflight(tenant, integration_id)]
        waited = 0.0
        while True:
            answer = await self._admit(keys=touched, args=[cap, lease_ms, holder, self.clock()])
            if answer[0] == 1:
                return holder
            if answer[0] == 2:
                await self._wait_blocked(float(answer[1]))
                continue
            if waited >= self.settings.inline_wait_max_s:
                raise Deferred(self.clock() + random.uniform(0.2, 1.0), "concurrency")
            await asyncio.sleep(0.02)
            waited += 0.02

    async def _release(self, tenant: str, integration_id: str, holder: str) -> None:
        try:
            await self.redis.zrem(keys.inflight(tenant, integration_id), holder)
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            log.warning("lease not released", extra={"reason": repr(exc)})

    async def aclose(self) -> None:
        pass
