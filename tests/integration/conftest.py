"""The real parts, started once per module as child processes: broker, redis-server, both
sandbox tools, the ingress and the outbound worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack import processes
from devstack.stack import Stack
from devstack.tools import Tools
from tests import leakcheck


def start_stack(
    tools: tuple[str, ...] = (),
    overrides: dict[str, dict[str, Any]] | None = None,
    extra_env: dict[str, str] | None = None,
    **features: bool,
) -> Iterator[tuple[Stack, Tools]]:
    stack = Stack(
        features=features, tools=tools, overrides=overrides or {}, extra_env=extra_env or {}
    )
    leakcheck.watch(stack.secret_values(), "a test stack")
    stack.start()
    hands = Tools(stack)
    try:
        yield stack, hands
    finally:
        hands.close()
        stack.stop()


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """One redis-server for the tests that drive the processors' code directly."""
    child = processes.redis().start()
    assert child.port is not None
    try:
        yield child.port
    finally:
        child.stop()
