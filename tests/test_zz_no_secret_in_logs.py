"""The run's last test: no secret the suite handed to the system, and nothing shaped like a
credential, appears in any log the run produced (services, sandboxes, broker, redis-server
and this process)."""

from __future__ import annotations

from tests import leakcheck


def test_no_secret_in_any_log_of_the_run() -> None:
    root = leakcheck.session_dir()
    logs = leakcheck.logs_under(root)
    assert logs, f"no logs under {root}: the scan would prove nothing"
    leaks = leakcheck.scan(root, leakcheck.REGISTRY.secrets)
    report = "\n".join(f"{leak.path}:{leak.line}: {leak.what}" for leak in leaks[:20])
    assert not leaks, f"{len(leaks)} secret(s) in the logs:\n{report}"
