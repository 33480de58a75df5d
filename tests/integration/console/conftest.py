"""The console tests' control service: one of their own, on a Redis database of its own.

(The control tests' `control_server` imported here would be a second fixture of that name: a
second service, with keys of its own, on the control tests' database, whose seals those tests
would then count as not yet rotated.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.control.conftest import control_broker  # noqa: F401 - fixture
from tests.integration.control.service import ControlService, start_control

CONSOLE_DB = 11


@pytest.fixture(scope="session")
def control(redis_port: int, control_broker: str) -> Iterator[ControlService]:  # noqa: F811
    service = start_control(redis_port, CONSOLE_DB, kafka_bootstrap=control_broker)
    try:
        yield service
    finally:
        service.stop()
    leaked = service.leaked()
    assert not leaked, f"secrets in the control service's log: {len(leaked)}"
