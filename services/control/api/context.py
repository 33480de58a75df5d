"""What the handlers share, built once per app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from control.auth import Tokens
from control.policy import Policy
from control.settings import ControlSettings
from controlstore.crypto import Keyring
from controlstore.store import ControlStore

if TYPE_CHECKING:
    from control.api.routing import Route


@dataclass
class Services:
    settings: ControlSettings
    redis: Redis
    keyring: Keyring
    store: ControlStore
    tokens: Tokens
    policy: Policy
    routes: list[Route] = field(default_factory=list)
