"""Webhook storms, shared by every sandbox that sends webhooks: each delivery is sent several
times, each copy after its own random delay, so copies arrive late and out of order.

A vendor that retries sends the same delivery id again; one that reports a change through
two events, or a misbehaving proxy, sends distinct deliveries of one change. `fresh_ids`
(default) makes every copy after the first a distinct delivery, built again by the sandbox
that queued it (new delivery id, new signature; a sandbox without a way to rebuild sends a
plain retry). Set by `POST /_sandbox/faults {"webhook_storm": {...}}`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What a sandbox gives to rebuild one delivery as a new, distinct one: (body, headers).
Remake = Callable[[], tuple[bytes, Mapping[str, str]]]


@dataclass
class WebhookStorm:
    copies: int = 1
    min_delay_s: float = 0.0
    max_delay_s: float = 0.0
    fresh_ids: bool = True
    rng: random.Random = field(default_factory=random.Random)

    @property
    def active(self) -> bool:
        return self.copies > 1 or self.max_delay_s > 0

    def delays(self) -> list[float]:
        """One delay per copy; independent, so a later change's copies may overtake."""
        return [self.rng.uniform(self.min_delay_s, self.max_delay_s) for _ in range(self.copies)]

    def stats(self) -> dict[str, Any]:
        return {
            "webhook_storm": {
                "copies": self.copies,
                "min_delay_s": self.min_delay_s,
                "max_delay_s": self.max_delay_s,
                "fresh_ids": self.fresh_ids,
            }
        }

    @classmethod
    def parse(cls, spec: object) -> WebhookStorm:
        """`{"copies": 2, "min_delay_s": 0.2, "max_delay_s": 1.5, "fresh_ids": true, "seed": 1}`;
        `null` or `{}` turns the storm off. ValueError for anything else."""
        if spec is None:
            return cls()
        if not isinstance(spec, dict):
            raise ValueError("webhook_storm must be an object")
        unknown = set(spec) - {"copies", "min_delay_s", "max_delay_s", "fresh_ids", "seed"}
        if unknown:
            raise ValueError(f"webhook_storm: unknown keys {sorted(unknown)}")
        copies = int(spec.get("copies", 1))
        low = float(spec.get("min_delay_s", 0.0))
        high = float(spec.get("max_delay_s", low))
        if not 1 <= copies <= 10:
            raise ValueError("webhook_storm.copies must be between 1 and 10")
        if not 0.0 <= low <= high <= 60.0:
            raise ValueError("webhook_storm: need 0 <= min_delay_s <= max_delay_s <= 60")
        fresh = spec.get("fresh_ids", True)
        if not isinstance(fresh, bool):
            raise ValueError("webhook_storm.fresh_ids must be a boolean")
        rng = random.Random(spec.get("seed"))
        return cls(copies=copies, min_delay_s=low, max_delay_s=high, fresh_ids=fresh, rng=rng)


def copies_of(
    storm: WebhookStorm, body: bytes, headers: Mapping[str, str], remake: Remake | None
) -> list[tuple[float, bytes, Mapping[str, str]]]:
    """(delay, body, headers) of each copy of one delivery."""
    out: list[tuple[float, bytes, Mapping[str, str]]] = []
    for n, delay in enumerate(storm.delays()):
        if n and storm.fresh_ids and remake is not None:
            copy_body, copy_headers = remake()
            out.append((delay, copy_body, copy_headers))
        else:
            out.append((delay, body, headers))
    return out
