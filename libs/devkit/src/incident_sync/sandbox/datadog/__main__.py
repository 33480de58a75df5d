"""The Datadog sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.datadog.app import DatadogConfig, build_app
from incident_sync.sandbox.serve import Option, sandbox_main

main = sandbox_main(
    __doc__,
    __package__,
    DatadogConfig,
    build_app,
    [Option("--api-key"), Option("--app-key"), Option("--webhook-secret")],
)

if __name__ == "__main__":
    main()
