"""What only the outbound workers know, kept in Redis for the control API's status routes:
each worker's circuit breaker per integration and the workers' consumer-group lag.

Breakers: `is:{tenant}:breakers:{integration}`, a hash worker -> `BreakerReport` JSON. A
worker's gauges write their field every `gauges_s`, each report valid for a few beats; the
same script drops the fields of reports that expired (a worker that died) and sets the key to
expire with the last report, so with no worker left the hash goes too.

Consumer lag: `is:ctl:consumerlag` (cluster-wide, one command of its own), the messages
behind per topic summed over partitions, as the last worker measured it (every worker
measures the whole group's lag, so any one's is the deployment's). It expires like a report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from incident_sync.syncmodel.breakers import BreakerReport
from incident_sync.syncstate import keys

# KEYS[1] the integration's hash; ARGV: worker, report, now, ttl_ms. One key, one tenant.
_REPORT: Final = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local now = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, report = pcall(cjson.decode, all[i + 1])
  if not ok or type(report) ~= 'table' or tonumber(report['expires_at'] or 0) < now then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class ConsumerLag:
    """Messages the workers' group is behind, per topic, when measured (unix time)."""

    group: str
    topics: dict[str, int]
    at: float

    @property
    def messages(self) -> int:
        return sum(self.topics.values())


class Health:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._report = redis.register_script(_REPORT)

    # -- breakers ------------------------------------------------------------------------------
    async def report_breaker(self, tenant: str, integration_id: str, report: BreakerReport) -> None:
        """Writes the worker's report (replacing its last) and drops the expired ones."""
        ttl_ms = max(1, int((report.expires_at - report.at) * 1000))
        await self._report(
            keys=[keys.breakers(tenant, integration_id)],
            args=[report.worker, report.encode(), report.at, ttl_ms],
        )

    async def breakers(self, tenant: str, integration_id: str) -> list[BreakerReport]:
        """Every report stored for the integration (expired ones included until pruned: the
        caller decides with its clock, `syncmodel.breakers.live`)."""
        raw = await self.redis.hgetall(keys.breakers(tenant, integration_id))
        found = (BreakerReport.decode(_text(w), _text(v)) for w, v in raw.items())
        return [r for r in found if r is not None]

    # -- consumer lag ----------------------------------------------------------------------------
    async def report_consumer_lag(self, lag: ConsumerLag, ttl_s: float) -> None:
        value = json.dumps({"group": lag.group, "topics": lag.topics, "at": lag.at})
        await self.redis.set(keys.CONSUMER_LAG, value, px=max(1, int(ttl_s * 1000)))

    async def consumer_lag(self) -> ConsumerLag | None:
        """The last measure still valid; None when no worker measured it lately."""
        raw = await self.redis.get(keys.CONSUMER_LAG)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return ConsumerLag(
                group=str(data["group"]),
                topics={str(t): int(n) for t, n in data["topics"].items()},
                at=float(data["at"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
