"""The Datadog sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.datadog.app import DatadogConfig, build_app
from incident_sync.sandbox.serve import command_line, parse, run


def main(argv: list[str] | None = None) -> None:
    defaults = DatadogConfig()
    parser = command_line(__doc__, __package__)
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--app-key", default=defaults.app_key)
    parser.add_argument("--webhook-secret", default=defaults.webhook_secret)
    args = parse(parser, argv)
    config = DatadogConfig(
        api_key=args.api_key,
        app_key=args.app_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
