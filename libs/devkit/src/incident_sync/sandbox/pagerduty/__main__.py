"""The PagerDuty sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.serve import Option, sandbox_main

main = sandbox_main(
    __doc__,
    __package__,
    PagerDutyConfig,
    build_app,
    [
        Option("--api-token"),
        Option("--api-user", help="the From e-mail"),
        Option("--webhook-secret"),
    ],
)

if __name__ == "__main__":
    main()
