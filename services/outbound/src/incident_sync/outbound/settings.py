"""The delivery path's settings: the retry ladder, the circuit breaker, rate and concurrency
limits, the paused-integration hold. Tests scale the delays down through the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from incident_sync.syncmodel.retry import RetryPolicy, parse_delays


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Waits before attempts 2..n (seconds, comma-separated); attempt 1 is immediate and the
    # command is dead-lettered after len + 1 failed attempts. One `sync.retry.<n>` per delay.
    retry_delays_s: str = Field("30,120,480,1800", alias="RETRY_DELAYS_S")
    retry_jitter: float = Field(0.2, ge=0, lt=1, alias="RETRY_JITTER")
    # A tool's Retry-After (or rate-limit reset) is honoured up to this long.
    retry_after_max_s: float = Field(1800.0, gt=0, alias="RETRY_AFTER_MAX_S")
    # Circuit breaker per integration (per worker): this many transient failures in a row
    # open it; after `breaker_open_s` one request probes (half-open) before it closes.
    breaker_failures: int = Field(5, ge=1, alias="BREAKER_FAILURES")
    breaker_open_s: float = Field(30.0, gt=0, alias="BREAKER_OPEN_S")
    # Requests in flight to one integration from all workers together, unless the
    # integration sets its own `max_concurrency`.
    concurrency: int = Field(4, ge=1, alias="DELIVERY_CONCURRENCY")
    # A wait for a rate-limit slot (or a concurrency lease) up to this long is waited out in
    # place; a longer one sends the command to a delayed topic instead of holding the worker.
    inline_wait_max_s: float = Field(1.0, ge=0, alias="DELIVERY_INLINE_WAIT_S")
    # How often paused integrations are checked for held commands to let out, and the gauges
    # (DLQ depth, retry depth, consumer lag, circuits) refreshed.
    hold_check_s: float = Field(1.0, gt=0, alias="HOLD_CHECK_S")
    gauges_s: float = Field(5.0, gt=0, alias="GAUGES_S")
    # The consumer group of the delayed topics (plain aiokafka, manual commits).
    retry_group: str = Field("incident-sync-retry", alias="RETRY_CONSUMER_GROUP")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            parse_delays(self.retry_delays_s),
            jitter=self.retry_jitter,
            retry_after_max_s=self.retry_after_max_s,
        )
