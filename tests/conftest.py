"""Suite-wide set-up: one directory for every temporary file and log of the run, scanned for
secrets by the run's last test (`tests/leakcheck.py`)."""

from __future__ import annotations

import pytest

import incident_sync.connectors.registry  # noqa: F401 - installs the tool catalogue (entry points)
from tests import leakcheck

LAST = "test_zz_no_secret_in_logs.py"


def pytest_configure(config: pytest.Config) -> None:
    leakcheck.start_session()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The scan must see the logs of everything else that ran.
    items.sort(key=lambda item: item.path.name == LAST)
