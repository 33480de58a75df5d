"""What the workers' circuit breakers say of an integration's health.

Each outbound worker keeps its own breaker per integration (in memory) and reports it every
`gauges_s`: a `BreakerReport`, valid until its `expires_at` (a few beats later), so a worker
that died stops counting once its last report expires. The integration's breaker is the worst
state over the reports still valid; with none, it is `UNKNOWN` (no worker says), never
"closed".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

CLOSED: Final = "closed"
HALF_OPEN: Final = "half-open"
OPEN: Final = "open"
UNKNOWN: Final = "unknown"
# From good to bad: the integration shows the worst of its live workers.
STATES: Final = (CLOSED, HALF_OPEN, OPEN)
State = Literal["closed", "half-open", "open"]
Overall = Literal["closed", "half-open", "open", "unknown"]


@dataclass(frozen=True)
class BreakerReport:
    """One worker's breaker for one integration: its state when written (`at`, unix time),
    when an open one half-opens, and until when the report counts."""

    worker: str
    state: State
    at: float
    expires_at: float
    half_opens_at: float | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"not a breaker state: {self.state!r}; one of {STATES}")
        if self.expires_at < self.at:
            raise ValueError("a breaker report expires before it was written")

    def live(self, now: float) -> bool:
        return self.expires_at >= now

    def encode(self) -> str:
        """The report as a hash field's value (JSON; `expires_at` is read by the pruning)."""
        return json.dumps(
            {
                "state": self.state,
                "at": self.at,
                "expires_at": self.expires_at,
                "half_opens_at": self.half_opens_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, worker: str, raw: str) -> BreakerReport | None:
        """The report `encode` wrote; None for a value it could not have written."""
        try:
            data = json.loads(raw)
            return cls(
                worker=worker,
                state=data["state"],
                at=float(data["at"]),
                expires_at=float(data["expires_at"]),
                half_opens_at=(
                    None if data.get("half_opens_at") is None else float(data["half_opens_at"])
                ),
            )
        except (ValueError, TypeError, KeyError):
            return None


def live(reports: Iterable[BreakerReport], now: float) -> list[BreakerReport]:
    """The reports that still count at `now`, by worker."""
    return sorted((r for r in reports if r.live(now)), key=lambda r: r.worker)


def worst(reports: Iterable[BreakerReport], now: float) -> Overall:
    """The integration's breaker: the worst state any live worker reports; `UNKNOWN` when no
    worker's report counts any more (or none was ever written)."""
    states = [r.state for r in live(reports, now)]
    if not states:
        return UNKNOWN
    return max(states, key=STATES.index)
