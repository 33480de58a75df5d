"""The PagerDuty sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.serve import command_line, parse, run


def main(argv: list[str] | None = None) -> None:
    defaults = PagerDutyConfig()
    parser = command_line(__doc__, __package__)
    parser.add_argument("--api-token", default=defaults.api_token)
    parser.add_argument("--api-user", default=defaults.api_user, help="the From e-mail")
    parser.add_argument("--webhook-secret", default=defaults.webhook_secret)
    args = parse(parser, argv)
    config = PagerDutyConfig(
        api_token=args.api_token,
        api_user=args.api_user,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
