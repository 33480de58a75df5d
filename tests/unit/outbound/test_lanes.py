"""The worker's per-partition lanes (`outbound.lanes`) over a stand-in for faust's stream:
each partition in order, a message acked once handled, and a message whose handler failed
even to quarantine it never acked (so faust does not commit past it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from incident_sync.outbound.lanes import Lanes


@dataclass
class Message:
    tp: str
    offset: int


@dataclass
class Event:
    message: Message
    acked: list[tuple[str, int]] = field(default_factory=list)

    def ack(self) -> None:
        self.acked.append((self.message.tp, self.message.offset))


class Stream:
    def __init__(self, events: list[Event]) -> None:
        self._events = events

    def noack(self) -> Stream:
        return self

    async def events(self) -> AsyncIterator[Event]:
        for event in self._events:
            yield event
        await asyncio.Event().wait()  # a stream ends only when the agent stops


async def run(lanes: Lanes, events: list[Event]) -> None:
    task = asyncio.create_task(lanes.run(Stream(events)))
    await asyncio.sleep(0)
    assert await lanes.drain(2.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_each_partition_in_order_and_a_message_acked_once_handled() -> None:
    acked: list[tuple[str, int]] = []
    handled: list[tuple[str, int]] = []

    async def handle(event: Any) -> None:
        await asyncio.sleep(0.01 if event.message.offset == 0 else 0)
        handled.append((event.message.tp, event.message.offset))

    events = [Event(Message(tp, n), acked) for n in range(3) for tp in ("a", "b")]
    await run(Lanes("gate", handle), events)
    assert [h for h in handled if h[0] == "a"] == [("a", 0), ("a", 1), ("a", 2)]
    assert sorted(acked) == sorted(handled) and len(acked) == 6


async def test_a_message_its_handler_could_not_keep_is_not_acked() -> None:
    acked: list[tuple[str, int]] = []

    async def handle(event: Any) -> None:
        if event.message.offset == 1:
            raise RuntimeError("the quarantine itself failed")

    events = [Event(Message("a", n), acked) for n in range(3)]
    lanes = Lanes("gate", handle)
    await run(lanes, events)
    assert acked == [("a", 0), ("a", 2)]  # faust commits only up to offset 0
    assert lanes.in_flight == 0
