"""The Jira Cloud sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.jira.app import build_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.serve import command_line, credential_pair, parse, run


def main(argv: list[str] | None = None) -> None:
    parser = command_line(__doc__, __package__)
    parser.add_argument(
        "--user",
        action="append",
        type=credential_pair("email", "api_token"),
        default=[],
        help="email:api_token, repeatable; the first is the integration's account",
    )
    parser.add_argument("--project", default=JiraConfig.project_key)
    parser.add_argument("--webhook-secret", default="", help="signs X-Hub-Signature")
    args = parse(parser, argv)
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
