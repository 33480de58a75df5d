"""Per-partition lanes: a stage works on every partition it holds at once, each partition in
order, and acks a message (so faust may commit it) only once its handler is done with it.

faust's agent concurrency (> 1) runs several copies of an agent over one stream, so a message
can be acked before an earlier one of its partition, and faust then commits past the
unprocessed one (its gap check lets a single missing offset through; faust-streaming #606).
Here one agent takes the events off the stream without acking them (`noack`) and hands each
to its partition's lane, one task per partition, which handles its events in order and acks
each after its handler returned. A partition's acks are thus contiguous from its committed
offset, and faust's commit timer commits exactly the handled prefix. At most `max_in_flight`
events are taken and not yet acked; past that the stream waits (faust's own buffer then fills
and holds the fetcher back), so a slow partition costs memory only up to that bound.

On a rebalance (`drain`, connected to the app's revoke signal) the lanes finish what they took
before the partitions move, so no event is in flight here while another worker starts on it,
and a stale event the stream skips (and acks) never overtakes an earlier one still in a lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]  # a faust Event; raises only if it cannot keep it


class Lanes:
    def __init__(self, stage: str, handle: Handler, max_in_flight: int = 256) -> None:
        self.stage = stage
        self.handle = handle
        self._queues: dict[Any, asyncio.Queue[Any]] = {}  # TopicPartition -> its events
        self._tasks: dict[Any, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_in_flight)
        self._taken = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self, stream: Any) -> None:
        """The agent's body: hand every event of `stream` (faust's) to its lane."""
        try:
            async for event in stream.noack().events():
                await self._slots.acquire()
                self._taken += 1
                self._idle.clear()
                tp = event.message.tp
                queue = self._queues.get(tp)
                if queue is None:
                    queue = self._queues[tp] = asyncio.Queue()
                    self._tasks[tp] = asyncio.create_task(self._lane(queue), name=f"{tp}")
                queue.put_nowait(event)
        finally:  # stopping: what is not acked is redelivered to whoever holds it next
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._queues.clear()
            self._tasks.clear()
            self._taken = 0
            self._idle.set()

    async def _lane(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            try:
                await self.handle(event)
            except Exception:
                # The handler quarantines what it cannot process, so this is a failure of the
                # quarantine itself. Not acked: faust commits no further on this partition,
                # and the message is redelivered to whoever holds it after a restart or a
                # rebalance (the lag alert shows the stall). Later events go on meanwhile.
                log.critical(
                    "%s: a message was neither handled nor quarantined; it is not acknowledged",
                    self.stage,
                    exc_info=True,
                    extra={"stage": self.stage, "offset": getattr(event.message, "offset", None)},
                )
            else:
                event.ack()
            self._taken -= 1
            self._slots.release()
            if not self._taken:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._taken

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every event taken is handled and acked (False: still busy when the
        time ran out, e.g. Redis away and a handler waiting for it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        if not self._idle.is_set():
            log.warning(
                "partitions revoked while events are in flight",
                extra={"stage": self.stage, "in_flight": self._taken},
            )
        return self._idle.is_set()
