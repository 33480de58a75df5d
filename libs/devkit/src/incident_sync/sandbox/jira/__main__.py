"""The Jira Cloud sandbox as a process (see --help)."""

from __future__ import annotations

import argparse
import logging

from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.serve import run


def _pair(text: str) -> tuple[str, str]:
    email, sep, token = text.partition(":")
    if not sep or not email:
        raise argparse.ArgumentTypeError(f"expected email:token, got {text!r}")
    return email, token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument(
        "--user",
        action="append",
        type=_pair,
        default=[],
        help="email:api_token, repeatable; the first is the integration's account",
    )
    parser.add_argument("--project", default=JiraConfig.project_key)
    parser.add_argument("--webhook-url", default="", help="empty = webhooks disabled")
    parser.add_argument("--webhook-secret", default="", help="signs X-Hub-Signature")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    defaults = JiraConfig()
    config = JiraConfig(
        api_users=tuple(args.user) or defaults.api_users,
        project_key=args.project,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
