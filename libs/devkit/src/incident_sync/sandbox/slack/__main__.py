"""The Slack sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.serve import Option, sandbox_main
from incident_sync.sandbox.slack.app import SlackConfig, build_app

main = sandbox_main(
    __doc__, __package__, SlackConfig, build_app, [Option("--bot-token")], webhooks=False
)

if __name__ == "__main__":
    main()
