"""The Slack sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.serve import command_line, parse, run
from incident_sync.sandbox.slack.app import SlackConfig, build_app


def main(argv: list[str] | None = None) -> None:
    parser = command_line(__doc__, __package__, webhooks=False)
    parser.add_argument("--bot-token", default=SlackConfig.bot_token)
    args = parse(parser, argv)
    run(build_app(SlackConfig(bot_token=args.bot_token)), args.host, args.port)


if __name__ == "__main__":
    main()
