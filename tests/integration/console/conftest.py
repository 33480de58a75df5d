"""The console tests' control service: one of their own, on a Redis database of its own.

(The control tests' `control_server` imported here would be a second fixture of that name: a
second service, with keys of its own, on the control tests' database, whose seals those tests
would then count as not yet rotated.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.control.conftest import control_broker, serve_control  # noqa: F401
from tests.integration.control.service import ControlService

CONSOLE_DB = 11


@pytest.fixture(scope="session")
def control(redis_port: int, control_broker: str) -> Iterator[ControlService]:  # noqa: F811
    yield from serve_control(redis_port, CONSOLE_DB, control_broker)
