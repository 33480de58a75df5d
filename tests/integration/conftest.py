"""The real parts, started once per module as child processes: broker, redis-server, both
sandbox tools, the ingress and the outbound worker."""

from __future__ import annotations

from collections.abc import Iterator

from devstack.stack import Stack
from devstack.tools import Tools


def start_stack(**features: bool) -> Iterator[tuple[Stack, Tools]]:
    stack = Stack(features=features)
    stack.start()
    tools = Tools(stack)
    try:
        yield stack, tools
    finally:
        tools.close()
        stack.stop()
