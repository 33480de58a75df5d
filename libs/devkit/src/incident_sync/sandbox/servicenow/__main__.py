"""The ServiceNow sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.serve import command_line, credential_pair, parse, run
from incident_sync.sandbox.servicenow.app import build_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig


def main(argv: list[str] | None = None) -> None:
    parser = command_line(__doc__, __package__)
    parser.add_argument(
        "--user",
        action="append",
        type=credential_pair("name", "password"),
        default=[],
        help="name:password, repeatable; the first is the integration user",
    )
    parser.add_argument(
        "--oauth-client",
        action="append",
        default=[],
        help="client_id:client_secret[:user], repeatable",
    )
    parser.add_argument("--webhook-secret", default=ServiceNowConfig.webhook_secret)
    parser.add_argument("--rate-limit-per-hour", type=int, default=None)
    parser.add_argument(
        "--require-close-fields",
        action="store_true",
        help="data policy: close_code and close_notes mandatory to resolve",
    )
    args = parse(parser, argv)
    clients: dict[str, tuple[str, str]] = {}
    for raw in args.oauth_client:
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            parser.error(f"--oauth-client expects id:secret[:user], got {raw!r}")
        clients[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else "")
    defaults = ServiceNowConfig()
    config = ServiceNowConfig(
        users=dict(args.user) or defaults.users,
        oauth_clients=clients,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        rate_limit_per_hour=args.rate_limit_per_hour,
        require_close_fields=args.require_close_fields,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
