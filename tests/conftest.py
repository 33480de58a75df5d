"""Suite-wide set-up: one directory for every temporary file and log of the run, scanned for
secrets once the run has finished (`tests/leakcheck.py`)."""

from __future__ import annotations

import pytest

import incident_sync.connectors.registry  # noqa: F401 - installs the tool catalogue (entry points)
from tests import leakcheck

pytest_plugins = ["pytester"]  # tests/unit/test_leakcheck.py runs the hooks in a run of their own


def pytest_configure(config: pytest.Config) -> None:
    leakcheck.start_session()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test and every fixture's teardown: a secret in any log fails the run,
    whichever tests were selected and in whatever order they ran."""
    if session.config.option.collectonly:
        return
    problems = leakcheck.verdict(leakcheck.session_dir(), leakcheck.REGISTRY.secrets)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        if reporter is not None:
            reporter.write_sep("=", "secrets in the logs of the run", red=True)
            for line in problems:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
