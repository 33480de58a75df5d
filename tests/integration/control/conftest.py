"""One control service (child process) for the control tests, on the session's redis-server.

At the end it checks its whole log for every secret the tests handed it: none may be there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incident_sync.devstack import processes
from incident_sync.devstack.rediscluster import RedisCluster
from tests.integration.control.service import ControlService, start_control, start_control_at

CONTROL_DB = 5


@pytest.fixture(scope="session")
def control_broker() -> Iterator[str]:
    """A broker for what the control service publishes (conflict resolutions)."""
    child = processes.broker().start()
    try:
        yield f"127.0.0.1:{child.port}"
    finally:
        child.stop()


@pytest.fixture(scope="session")
def control(control_server: ControlService) -> ControlService:
    """The control service of the control tests (a module that runs on a Redis Cluster too
    has its own `control`, parametrized: `service.on_server_and_cluster`)."""
    return control_server


def serve_control(redis_port: int, db: int, broker: str) -> Iterator[ControlService]:
    """A control service on database `db` for a fixture's life; then no secret in its log."""
    service = start_control(redis_port, db, kafka_bootstrap=broker)
    try:
        yield service
    finally:
        service.stop()
    leaked = service.leaked()
    assert not leaked, f"secrets in the control service's log: {len(leaked)}"


@pytest.fixture(scope="session")
def control_server(redis_port: int, control_broker: str) -> Iterator[ControlService]:
    yield from serve_control(redis_port, CONTROL_DB, control_broker)


@pytest.fixture(scope="session")
def control_cluster(control_broker: str) -> Iterator[ControlService]:
    """A control service on a Redis Cluster of its own (three masters), for the modules that
    run on both (`control` parametrized there)."""
    cluster = RedisCluster(masters=3).start()
    service = start_control_at(cluster.url, kafka_bootstrap=control_broker)
    try:
        yield service
    finally:
        service.stop()
        cluster.stop()
    leaked = service.leaked()
    assert not leaked, f"secrets in the control service's log: {len(leaked)}"
