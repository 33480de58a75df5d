"""Background, in-order webhook delivery with retries, shared by both sandboxes.

Deliveries are queued while a request is handled but held back until its response has
been written (see `release_after_response`), so a receiver never sees the echo of a
write before the writer has the write's response - as with SN async rules and Svix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx
from aiohttp import web

from incident_sync.sandbox.storm import Remake, WebhookStorm, copies_of

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_S: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class SenderConfig:
    url: str = ""  # empty = webhooks disabled
    backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S
    timeout_s: float = 5.0


@dataclass
class Delivery:
    body: bytes
    headers: Mapping[str, str]
    generation: int
    released: asyncio.Event = field(default_factory=asyncio.Event)
    remake: Remake | None = None  # builds a distinct copy (storms with fresh delivery ids)


class WebhookSender:
    """One worker task and one HTTP client per server; counters feed `/_sandbox/stats`."""

    def __init__(self, config: SenderConfig) -> None:
        self.config = config
        self.sent = 0
        self.failed = 0
        # Fault injection: the share of webhooks that are silently never sent, as when a
        # business rule is disabled or a delivery is lost. Drives the missed-webhook tests.
        self.drop_ratio = 0.0
        self.dropped = 0
        self._rng = random.Random()
        self._queue: deque[Delivery] = deque()
        self._wakeup = asyncio.Event()
        self._in_flight: Delivery | None = None
        self._generation = 0
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        # Storm mode: every delivery sent several times, late and out of order.
        self.storm = WebhookStorm()
        self._storm_tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.config.url)

    @property
    def pending(self) -> int:
        in_flight = 1 if self._in_flight is not None else 0
        return len(self._queue) + in_flight + len(self._storm_tasks)

    def enqueue(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        hold: bool = False,
        remake: Remake | None = None,
    ) -> Delivery:
        """Queue one delivery; a held one waits for `Delivery.released` before it leaves.
        `remake` rebuilds it as a distinct delivery (a storm's extra copies)."""
        delivery = Delivery(body, dict(headers), self._generation, remake=remake)
        if not hold:
            delivery.released.set()
        if self.enabled and self.drop_ratio and self._rng.random() < self.drop_ratio:
            self.dropped += 1
        elif self.enabled:
            self._queue.append(delivery)
            self._wakeup.set()
        return delivery

    def reset(self) -> None:
        """Forget queued deliveries and counters; an in-flight one finishes uncounted."""
        self._generation += 1
        self._queue.clear()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.drop_ratio = 0.0
        self.storm = WebhookStorm()
        for task in self._storm_tasks:
            task.cancel()

    def set_faults(self, drop_ratio: float, seed: int | None = None) -> None:
        if not 0.0 <= drop_ratio <= 1.0:
            raise ValueError("drop_webhooks must be between 0 and 1")
        self.drop_ratio = drop_ratio
        if seed is not None:
            self._rng.seed(seed)

    def stats(self) -> dict[str, int | float]:
        return {
            "webhooks_sent": self.sent,
            "webhooks_pending": self.pending,
            "webhooks_failed": self.failed,
            "webhooks_dropped": self.dropped,
            "drop_webhooks": self.drop_ratio,
            **self.storm.stats(),
        }

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until nothing is pending (tests, graceful shutdown)."""
        async with asyncio.timeout(timeout_s):
            while self.pending:  # noqa: ASYNC110 - a poll keeps the worker free of test hooks
                await asyncio.sleep(0.01)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.config.timeout_s)
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        for task in list(self._storm_tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            head = self._queue[0]
            await head.released.wait()
            if not self._queue or self._queue[0] is not head:
                continue  # reset while waiting
            self._queue.popleft()
            if self.storm.active:
                self._scatter(head)
                continue
            self._in_flight = head
            try:
                ok = await self._deliver(head)
            finally:
                self._in_flight = None
            if head.generation == self._generation:
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1

    def _scatter(self, delivery: Delivery) -> None:
        """Storm mode: send each copy on its own after its own delay."""
        for delay, body, headers in copies_of(
            self.storm, delivery.body, delivery.headers, delivery.remake
        ):
            copy = Delivery(body, dict(headers), delivery.generation)
            task = asyncio.create_task(self._late(delay, copy), name="webhook-storm")
            self._storm_tasks.add(task)
            task.add_done_callback(self._storm_tasks.discard)

    async def _late(self, delay_s: float, delivery: Delivery) -> None:
        await asyncio.sleep(delay_s)
        ok = await self._deliver(delivery)
        if delivery.generation == self._generation:
            if ok:
                self.sent += 1
            else:
                self.failed += 1

    async def _deliver(self, delivery: Delivery) -> bool:
        assert self._client is not None
        attempts = len(self.config.backoff_s) + 1
        for attempt in range(attempts):
            retryable = True
            try:
                resp = await self._client.post(
                    self.config.url, content=delivery.body, headers=dict(delivery.headers)
                )
                if 200 <= resp.status_code < 300:
                    return True
                retryable = resp.status_code in (408, 429) or resp.status_code >= 500
                log.warning("webhook answered %s", resp.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook delivery failed: %r", exc)
            if not retryable or attempt == attempts - 1:
                return False
            await asyncio.sleep(self.config.backoff_s[attempt])
        return False


async def set_faults_from(request: web.Request, sender: WebhookSender) -> web.Response:
    """`POST /_sandbox/faults {"drop_webhooks": 0.2, "seed": 1}`: lose a share of webhooks;
    `{"webhook_storm": {"copies": 2, "min_delay_s": 0.2, "max_delay_s": 1.5}}`: send each
    one several times, late and out of order (see `sandbox.storm`); `null` stops it."""
    try:
        body = await request.json()
        if "webhook_storm" in body:
            sender.storm = WebhookStorm.parse(body["webhook_storm"])
        sender.set_faults(float(body.get("drop_webhooks", 0.0)), body.get("seed"))
    except (ValueError, TypeError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(sender.stats())


PENDING_KEY = web.RequestKey("sandbox_pending_deliveries", list[Delivery])


def hold_for_response(request: web.Request, delivery: Delivery) -> None:
    """Mark a held delivery as belonging to this request's response."""
    if PENDING_KEY not in request:
        request[PENDING_KEY] = []
    request[PENDING_KEY].append(delivery)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def release_after_response(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Write the response first, then let the request's deliveries go."""
    try:
        response = await handler(request)
        pending: list[Delivery] = request.get(PENDING_KEY, [])
        if pending and isinstance(response, web.Response):
            await response.prepare(request)
            await response.write_eof()
        return response
    finally:
        for delivery in request.get(PENDING_KEY, []):
            delivery.released.set()
