"""The ServiceNow sandbox as a process (see --help)."""

from __future__ import annotations

import argparse

from incident_sync.sandbox.serve import Option, credential_pair, sandbox_main
from incident_sync.sandbox.servicenow.app import build_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig


def oauth_client(text: str) -> tuple[str, tuple[str, str]]:
    """`client_id:client_secret[:user]` -> (client_id, (client_secret, user or ""))."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expects id:secret[:user], got {text!r}")
    return parts[0], (parts[1], parts[2] if len(parts) == 3 else "")


main = sandbox_main(
    __doc__,
    __package__,
    ServiceNowConfig,
    build_app,
    [
        Option(
            "--user",
            "users",
            "name:password, repeatable; the first is the integration user",
            repeat=credential_pair("name", "password"),
            collect=dict,
        ),
        Option(
            "--oauth-client",
            "oauth_clients",
            "client_id:client_secret[:user], repeatable",
            repeat=oauth_client,
            collect=dict,
        ),
        Option("--webhook-secret"),
        Option("--rate-limit-per-hour", type=int),
        Option(
            "--require-close-fields",
            help="data policy: close_code and close_notes mandatory to resolve",
            switch=True,
        ),
    ],
)

if __name__ == "__main__":
    main()
