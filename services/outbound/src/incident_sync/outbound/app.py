"""The faust App and its topics. Each stage's agent lives beside its logic, in
`outbound.stages.<stage>.agent`."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Iterable
from itertools import chain
from typing import Any

import faust
import mode
from faust.app.base import BootStrategy

from incident_sync.outbound.context import Context
from incident_sync.outbound.lanes import Lanes
from incident_sync.outbound.membership import Membership
from incident_sync.outbound.quarantine import Quarantine
from incident_sync.runtime.logs import logging_config, setup_logging
from incident_sync.runtime.settings import Settings
from incident_sync.runtime.tracing import Consumed, setup_tracing
from incident_sync.runtime.webapp import HttpServer, service_app
from incident_sync.syncmodel import topics

log = logging.getLogger(__name__)
settings = Settings()
setup_logging(settings.log_level)
setup_tracing("incident-sync-outbound")
ctx = Context.from_env(settings)


def _fetch_wait(max_wait_ms: int) -> None:
    """faust builds its consumer with fetch_max_wait_ms=1500 and no setting to change it; a
    broker that answers fetches only when that wait ends (Tansu) then adds ~0.75 s to every
    hop gate -> arbiter -> delivery. Set it on the consumer faust creates."""
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "_incident_sync", False):
        return

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    create_worker_consumer._incident_sync = True  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


_fetch_wait(settings.kafka_fetch_max_wait_ms)


class Worker(faust.Worker):
    """faust's worker without its terminal spinner. At a CLI log level of WARN or above (its
    default) the spinner set the root logger to DEBUG and spun on every record of every
    library: a LogRecord for each of httpcore's debug lines, several per message, all dropped
    by the handler. The same records reach the handler as before (the CLI's level caps it);
    the root logger now stops the others before they are made."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        if level and logger.handlers:
            logger.handlers[0].setLevel(level)
            logger.setLevel(max(logger.level, level))

    def on_init_dependencies(self) -> Iterable[mode.ServiceT]:
        # The HTTP side first: it answers /health while the app joins its group, and (stopped
        # in reverse order) goes last, after the app has drained.
        return chain([Http()], super().on_init_dependencies())


app = faust.App(
    "incident-sync-outbound",
    broker=[f"kafka://{h}" for h in settings.kafka_bootstrap.split(",")],
    store="memory://",  # state lives in Redis, not in faust tables
    datadir=os.environ.get(
        "OUTBOUND_DATADIR", os.path.join(tempfile.gettempdir(), "incident-sync-outbound")
    ),
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=settings.kafka_topic_partitions,
    topic_replication_factor=settings.kafka_replication_factor,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.kafka_session_timeout_s,
    broker_heartbeat_interval=1.0,
    # Offsets are committed by the interval timer only. Every commit also flushes the producer,
    # and a count-triggered one is awaited in the loop that hands out messages: committing
    # after each message cost a round trip to the broker per message. A crash redoes at most
    # the last interval's messages, which the dedupe marks make harmless.
    broker_commit_every=100_000,
    broker_commit_interval=0.5,
    producer_acks=-1,
    producer_linger=0.0,
    # One message limit for every stage (`syncmodel.sizes`, KAFKA_MAX_MESSAGE_BYTES): faust's
    # own defaults are 1,000,000 bytes to produce and 1 MiB to fetch.
    producer_max_request_size=settings.kafka_max_message_bytes,
    consumer_max_fetch_size=settings.kafka_max_message_bytes,
    stream_wait_empty=False,
    # /health, /ready and /metrics are the service base's (`Http` below), not faust's web.
    web_enabled=False,
    logging_config=logging_config(settings.log_level),
    Worker=Worker,
)
# Without faust's web even though `faust worker` turns `web_enabled` on again (its
# --with-web is the default): the boot strategy decides what starts.
app.boot_strategy = BootStrategy(app, enable_web=False)

# The stages' lanes (`outbound.lanes`), drained before partitions move to another worker.
_lanes: list[Lanes] = []


def register(lanes: Lanes) -> Lanes:
    _lanes.append(lanes)
    return lanes


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # async receivers are supported
async def _drain(sender: faust.App, *args: object, **kwargs: object) -> None:
    # Within the session timeout, which the group allows a member for its rebalance.
    timeout = settings.kafka_session_timeout_s * 0.5
    await asyncio.gather(*(lanes.drain(timeout) for lanes in _lanes))


# Whether this worker has joined its group, and the partitions it holds (`outbound.membership`).
membership = Membership((topics.OBSERVATIONS, topics.LINKED, topics.COMMANDS))


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # async receivers are supported
async def _assigned(sender: faust.App, assigned: set[Any], **kwargs: object) -> None:
    # Sent after every rebalance, with an empty set for a worker that got nothing.
    membership.assigned(assigned)


def consumed(event: faust.EventT[bytes]) -> Consumed:
    """An event's message for its stage's span (`process <topic>`; the group is the app's)."""
    return Consumed.of(event.message, app.conf.id)


observations_topic = app.topic(topics.OBSERVATIONS, internal=False)
linked_topic = app.topic(topics.LINKED, internal=False)
commands_topic = app.topic(topics.COMMANDS, internal=False)
dlq_topic = app.topic(topics.DLQ, internal=False)
quarantine_topic = app.topic(topics.QUARANTINE, internal=False)
_by_name = {t.get_topic_name(): t for t in (linked_topic, commands_topic, quarantine_topic)}


async def produce(
    topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    """One record, durable (acks=all) when this returns; callers wrap it in `until_done`."""
    channel = _by_name.get(topic) or app.topic(topic, internal=False)
    sent = await channel.send(key=key, value=value, headers=headers)
    await sent


# Where every stage puts what it cannot process (`outbound.quarantine`).
quarantine = Quarantine(ctx, produce)


@app.timer(interval=settings.config_reload_s)  # type: ignore[untyped-decorator]
async def reload_config() -> None:
    """Pick up changes made through the control API (CONFIG_SOURCE=control)."""
    try:
        await ctx.reload()
    except Exception as exc:  # noqa: BLE001 - keep the config we have
        log.warning("config reload failed", extra={"reason": repr(exc)})


async def _redis() -> str | None:
    try:
        await ctx.store.redis.ping()
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
        return f"redis unreachable ({type(exc).__name__})"
    return None


async def _group() -> str | None:
    # Joined the group = ready, holding partitions or not (a spare worker must not block a
    # drain through the PodDisruptionBudget); the body tells what it holds.
    return None if membership.joined else "not a member of the consumer group yet"


def _held() -> dict[str, object]:
    return {k: v for k, v in membership.status().items() if k != "status"}


class Http(mode.Service):
    """`/health`, `/ready` (Redis answers, joined the group) and `/metrics` on HTTP_PORT, from
    the service base (`runtime.webapp`); the worker starts it before the app."""

    server: HttpServer | None = None

    async def on_start(self) -> None:
        app = service_app({"redis": _redis, "group": _group}, detail=_held)
        self.server = HttpServer(app, settings.http_host, settings.http_port)
        await self.server.start()

    async def on_stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # async receivers are supported
async def _close(sender: faust.App, *args: object, signal: Any, **kwargs: object) -> None:
    await ctx.aclose()
