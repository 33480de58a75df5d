"""The ingress application: routes, and the clients it starts and stops with it."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaProducer

from incident_sync.connectors.base import Connector
from incident_sync.controlstore.source import ConfigSource
from incident_sync.ingress import handlers, manual
from incident_sync.ingress.publisher import Publisher
from incident_sync.ingress.sides import ConnectorFactory, Sides, default_factory
from incident_sync.runtime.settings import Settings
from incident_sync.runtime.webapp import service_app
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncstate.client import connect

log = logging.getLogger("ingress")

PUBLISHER: Final = web.AppKey("publisher", Publisher)
REDIS: Final = web.AppKey("redis", aioredis.Redis)
SIDES: Final = web.AppKey("sides", Sides)
RELOADS: Final = web.AppKey("reloads", set[asyncio.Task[None]])


async def _close(connector: Connector) -> None:
    try:
        await connector.aclose()
    except Exception:  # cleanup must go on
        log.exception("connector close failed", extra={"integration": connector.config.id})


def build_app(
    settings: Settings,
    config: SyncConfig,
    producer: AIOKafkaProducer | None = None,
    redis: aioredis.Redis | None = None,
    *,
    connector_factory: ConnectorFactory = default_factory,
    publish_timeout_s: float = 5.0,
    ensure_topics: bool = True,
    config_source: ConfigSource | None = None,
) -> web.Application:
    """The app. A `producer` or `redis` handed in stays the caller's to start and close.

    With a `config_source` that can change (the control store), the sides are reloaded every
    `CONFIG_RELOAD_S` when the config version moves; retired connectors close a minute later.
    """
    sides = Sides(config, connector_factory)
    publisher = Publisher(
        settings,
        producers=[producer] if producer is not None else None,
        timeout_s=publish_timeout_s,
        ensure=ensure_topics,
    )
    own_redis = redis is None
    redis_client = redis or connect(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
    )
    max_body = settings.max_body_bytes

    async def redis_check() -> str | None:
        try:
            await asyncio.wait_for(redis_client.ping(), 1.0)
        except (TimeoutError, OSError, aioredis.RedisError) as exc:
            return f"redis unreachable ({type(exc).__name__})"
        return None

    app = service_app({"broker": publisher.check, "redis": redis_check}, client_max_size=max_body)
    app[PUBLISHER] = publisher
    app[REDIS] = redis_client
    app[SIDES] = sides
    app[RELOADS] = set()

    app.router.add_post("/webhook", handlers.platform_handler(sides, publisher, max_body))
    app.router.add_post(
        "/webhook/servicenow", handlers.servicenow_handler(sides, publisher, max_body)
    )
    app.router.add_post(
        "/webhooks/{integration_id}", handlers.side_by_id_handler(sides, publisher, max_body)
    )
    guard = manual.SyncGuard.from_settings(settings)
    if (warning := guard.warning()) is not None:
        log.warning(warning)
    app.router.add_post(
        "/sync/incident/{record_id}",
        manual.manual_sync_handler(lambda: (sides.platform, ""), publisher, guard),
    )
    app.router.add_post(
        "/sync/servicenow/{record_id}",
        manual.manual_sync_handler(
            lambda: (sides.servicenow, sides.servicenow_missing), publisher, guard
        ),
    )
    app.router.add_post(  # any integration by id (Jira, PagerDuty, ...): re-read one record
        "/sync/{integration_id}/{record_id}",
        manual.manual_sync_by_id_handler(sides, publisher, guard),
    )

    retired: list[Connector] = []

    async def close_later(connectors: list[Connector]) -> None:
        await asyncio.sleep(60.0)  # requests in flight still use them
        for connector in connectors:
            retired.remove(connector)
            await _close(connector)

    async def reload(source: ConfigSource) -> None:
        while True:
            await asyncio.sleep(settings.config_reload_s)
            try:
                config = await source.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep serving the config we have
                log.warning("config reload failed", extra={"reason": repr(exc)})
                continue
            if config is not None:
                unused = sides.update(config)
                retired.extend(unused)
                app[RELOADS].add(asyncio.create_task(close_later(unused)))

    async def startup(app: web.Application) -> None:
        await publisher.start()
        if config_source is not None:
            app[RELOADS].add(asyncio.create_task(reload(config_source)))

    async def cleanup(app: web.Application) -> None:
        for task in app[RELOADS]:
            task.cancel()
        await publisher.stop()  # flushes what is pending
        if own_redis:
            await redis_client.aclose()
        if config_source is not None:
            await config_source.aclose()
        for connector in [*(side.connector for side in sides), *retired]:
            await _close(connector)

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app
