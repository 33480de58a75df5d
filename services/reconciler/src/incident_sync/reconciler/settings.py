"""The reconciler's settings: the pipeline's (Kafka, Redis, where the sides come from) and
its own, from the environment."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from incident_sync.runtime.settings import Settings


def _instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ReconcilerSettings(Settings):
    # How often each side is listed for records changed since the last look (the fallback
    # for lost webhooks), and how far back each look reaches before that (clock skew, the
    # tools' own indexing delays; the gate drops what it already knows).
    poll_interval_s: float = Field(300.0, gt=0, alias="RECONCILE_POLL_INTERVAL_S")
    poll_overlap_s: float = Field(60.0, ge=0, alias="RECONCILE_POLL_OVERLAP_S")
    # An integration without a schedule of its own gets a dry run this often (0: none).
    default_interval_s: float = Field(3600.0, ge=0, alias="RECONCILE_DEFAULT_INTERVAL_S")
    # One reconciler works a side at a time: it holds the side's lease, renewed every third
    # of this; another replica takes over at most this long after the holder died.
    lease_s: float = Field(15.0, gt=0, alias="RECONCILE_LEASE_S")
    # How often a held side's request queue and schedule are looked at.
    tick_s: float = Field(1.0, gt=0, alias="RECONCILE_TICK_S")
    # A backfill stops waiting for the records it asked for after this long without one.
    backfill_idle_s: float = Field(120.0, gt=0, alias="BACKFILL_IDLE_S")
    instance: str = Field(default_factory=_instance, alias="RECONCILE_INSTANCE")
