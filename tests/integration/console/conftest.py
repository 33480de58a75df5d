"""The console tests run on the control tests' service (tests/integration/control/conftest)."""

from tests.integration.control.conftest import (  # noqa: F401 - fixtures
    control,
    control_broker,
    control_server,
)
