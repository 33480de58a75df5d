"""Suite-wide set-up: one directory for every temporary file and log of the run, scanned for
secrets once the run has finished (`tests/leakcheck.py`).

Under pytest-xdist (`make test` runs the modules on two workers) each worker scans its own
directory (a subdirectory of the controller's) for the secrets its tests handed out and sends
what it found to the controller, which fails the run; every worker also draws its stacks'
ports from its own share of the range, so two workers never race for one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

import incident_sync.connectors.registry  # noqa: F401 - installs the tool catalogue (entry points)
from incident_sync.devstack import processes
from tests import leakcheck

pytest_plugins = ["pytester"]  # tests/unit/test_leakcheck.py runs the hooks in a run of their own

# No deadline per example: how long one takes is the machine's load (two workers, the stacks'
# processes), not a property of the code; speed is measured in bench/, never in a test.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

# What the xdist workers found, gathered by the controller as each worker finishes.
_from_workers: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    leakcheck.start_session()
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        processes.use_port_share(
            int(worker["workerid"].removeprefix("gw")), int(worker["workercount"])
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller, as a worker finishes: keep what its scan found."""
    _from_workers.extend(getattr(node, "workeroutput", {}).get("leaks", []))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test and every fixture's teardown: a secret in any log fails the run,
    whichever tests were selected and in whatever order they ran."""
    if session.config.option.collectonly:
        return
    problems = leakcheck.verdict(leakcheck.session_dir(), leakcheck.REGISTRY.secrets)
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # an xdist worker: the controller reports and fails the run
        output["leaks"] = problems
        return
    problems += _from_workers
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        if reporter is not None:
            reporter.write_sep("=", "secrets in the logs of the run", red=True)
            for line in problems:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
