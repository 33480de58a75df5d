"""The incident.io sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.state import IncidentioConfig
from incident_sync.sandbox.serve import Option, sandbox_main

main = sandbox_main(
    __doc__,
    __package__,
    IncidentioConfig,
    build_app,
    [Option("--api-key"), Option("--signing-secret")],
)

if __name__ == "__main__":
    main()
