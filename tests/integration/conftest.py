"""The real parts, started once per module as child processes: broker, redis-server, both
sandbox tools, the ingress and the outbound worker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from incident_sync.devstack import processes
from incident_sync.devstack.rediscluster import RedisCluster
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools
from tests import leakcheck


def start_stack(
    tools: tuple[str, ...] = (),
    overrides: dict[str, dict[str, Any]] | None = None,
    extra_env: dict[str, str] | None = None,
    sides: dict[str, Any] | None = None,
    redis_cluster: bool = False,
    **features: bool,
) -> Iterator[tuple[Stack, Tools]]:
    stack = Stack(
        features=features,
        tools=tools,
        overrides=overrides or {},
        extra_env=extra_env or {},
        sides=sides or {},
        redis_cluster=redis_cluster,
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


def run_im(stack: Stack, *args: str) -> tuple[int, Any]:
    """The real `im` against the stack's control API as its administrator, `--format json`:
    the exit code and the parsed output (None when it printed nothing)."""
    done = subprocess.run(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).parent / "im"), *args, "--format", "json"],
        env={**os.environ, "IM_API_URL": stack.url("control"), "IM_TOKEN": stack.admin_token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1, 2, 3, 4, 5, 6), done.stderr  # never a crash
    return done.returncode, orjson.loads(done.stdout) if done.stdout.strip() else None


def im(stack: Stack, *args: str, code: int = 0) -> Any:
    """`run_im`, asserting the exit code; the parsed output."""
    returned, out = run_im(stack, *args)
    assert returned == code, f"im {' '.join(args)}: exit {returned}, {out}"
    return out


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A Redis Cluster of three masters from the same redis-server binary, started the
    first time a test asks for it."""
    cluster = RedisCluster(masters=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["server", "cluster"])
def redis_url(request: pytest.FixtureRequest, redis_port: int) -> str:
    """The tests that drive the processors' state directly run twice: on one redis-server
    and on a Redis Cluster (`redis+cluster://`, `incident_sync.syncstate.client`)."""
    if request.param == "server":
        return f"redis://127.0.0.1:{redis_port}/0"
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return cluster.url
