"""The ingress application: routes, and the clients it starts and stops with it."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaProducer

from ingress import handlers
from ingress.errors import error_middleware
from ingress.publisher import Publisher
from ingress.sides import ConnectorFactory, Sides, default_factory
from runtime.settings import Settings
from syncmodel.config import SyncConfig

log = logging.getLogger("ingress")

PUBLISHER: Final = web.AppKey("publisher", Publisher)
REDIS: Final = web.AppKey("redis", aioredis.Redis)
SIDES: Final = web.AppKey("sides", Sides)


def build_app(
    settings: Settings,
    config: SyncConfig,
    producer: AIOKafkaProducer | None = None,
    redis: aioredis.Redis | None = None,
    *,
    connector_factory: ConnectorFactory = default_factory,
    publish_timeout_s: float = 5.0,
    ensure_topics: bool = True,
) -> web.Application:
    """The app. A `producer` or `redis` handed in stays the caller's to start and close."""
    sides = Sides(config, connector_factory)
    publisher = Publisher(
        settings,
        producers=[producer] if producer is not None else None,
        timeout_s=publish_timeout_s,
        ensure=ensure_topics,
    )
    own_redis = redis is None
    redis_client = redis or aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
    )
    max_body = settings.max_body_bytes

    app = web.Application(client_max_size=max_body, middlewares=[error_middleware])
    app[PUBLISHER] = publisher
    app[REDIS] = redis_client
    app[SIDES] = sides

    async def broker_check() -> str | None:
        return await publisher.check()

    async def redis_check() -> str | None:
        try:
            await asyncio.wait_for(redis_client.ping(), 1.0)
        except (TimeoutError, OSError, aioredis.RedisError) as exc:
            return f"redis unreachable ({type(exc).__name__})"
        return None

    app.router.add_post("/webhook", handlers.webhook_handler(sides.platform, publisher, max_body))
    app.router.add_post(
        "/webhook/servicenow", handlers.servicenow_handler(sides, publisher, max_body)
    )
    app.router.add_post(
        "/webhooks/{integration_id}", handlers.side_by_id_handler(sides, publisher, max_body)
    )
    token = settings.sync_api_token.get_secret_value() if settings.sync_api_token else None
    if token is None:
        log.warning("SYNC_API_TOKEN is not set: the /sync routes accept any caller")
    app.router.add_post(
        "/sync/incident/{record_id}",
        handlers.manual_sync_handler(sides.platform, "", publisher, token),
    )
    app.router.add_post(
        "/sync/servicenow/{record_id}",
        handlers.manual_sync_handler(sides.servicenow, sides.servicenow_missing, publisher, token),
    )
    app.router.add_post(  # any integration by id (Jira, PagerDuty, ...): re-read one record
        "/sync/{integration_id}/{record_id}",
        handlers.manual_sync_by_id_handler(sides, publisher, token),
    )
    app.router.add_get("/health", handlers.health)
    app.router.add_get(
        "/ready", handlers.ready_handler({"broker": broker_check, "redis": redis_check})
    )
    app.router.add_get("/metrics", handlers.metrics_handler)

    async def startup(app: web.Application) -> None:
        await publisher.start()

    async def cleanup(app: web.Application) -> None:
        await publisher.stop()  # flushes what is pending
        if own_redis:
            await redis_client.aclose()
        for side in sides:
            try:
                await side.connector.aclose()
            except Exception:  # cleanup must go on
                log.exception("connector close failed", extra={"integration": side.id})

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app
