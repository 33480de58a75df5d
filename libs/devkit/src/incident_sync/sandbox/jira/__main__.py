"""The Jira Cloud sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.serve import Option, credential_pair, sandbox_main

main = sandbox_main(
    __doc__,
    __package__,
    JiraConfig,
    build_app,
    [
        Option(
            "--user",
            "api_users",
            "email:api_token, repeatable; the first is the integration's account",
            repeat=credential_pair("email", "api_token"),
        ),
        Option("--project", "project_key"),
        Option("--webhook-secret", help="signs X-Hub-Signature"),
    ],
)

if __name__ == "__main__":
    main()
