"""One connector per configured side, made on first use and kept while the side's config stays
the same. A new config retires the connectors of the sides it changed; they are closed a
minute later, because a request (or a reconcile run) in flight may still be using them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import httpx

from incident_sync.connectors.base import Connector
from incident_sync.connectors.registry import make_connector
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig

log = logging.getLogger(__name__)

RETIRE_AFTER_S = 60.0
# An HTTP client for a side (e.g. one that counts requests); None: the connector's own.
HttpFactory = Callable[[IntegrationConfig], httpx.AsyncClient]


class ConnectorPool:
    def __init__(
        self,
        config: SyncConfig,
        *,
        http: HttpFactory | None = None,
        preset: Mapping[str, Connector] | None = None,
    ) -> None:
        """`preset`: connectors to use as they are for those side ids (tests' simulated
        sides)."""
        self.config = config
        self._http = http
        self._connectors: dict[str, Connector] = dict(preset or {})

    def get(self, side_id: str) -> Connector:
        existing = self._connectors.get(side_id)
        if existing is not None:
            return existing
        side = self.config.side(side_id)
        if side is None:
            raise KeyError(f"no side is configured with id {side_id!r}")
        http = self._http(side) if self._http is not None else None
        connector = self._connectors[side_id] = make_connector(side, http=http)
        return connector

    def swap(self, config: SyncConfig) -> list[str]:
        """Use `config` from now on; returns the ids of the sides whose connector retired."""
        old, self.config = self.config, config
        retired = {
            side_id: self._connectors.pop(side_id)
            for side_id in list(self._connectors)
            if old.side(side_id) != config.side(side_id)
        }
        if retired:
            connectors = list(retired.values())
            asyncio.get_running_loop().call_later(
                RETIRE_AFTER_S, lambda: asyncio.ensure_future(close_all(connectors))
            )
        return list(retired)

    async def aclose(self) -> None:
        connectors, self._connectors = list(self._connectors.values()), {}
        await close_all(connectors)


async def close_all(connectors: list[Connector]) -> None:
    for connector in connectors:
        try:
            await connector.aclose()
        except Exception:  # closing must go on
            log.exception("connector close failed", extra={"integration": connector.config.id})
