"""The Slack sandbox as a process (see --help)."""

from __future__ import annotations

import argparse
import logging

from incident_sync.sandbox.serve import run
from incident_sync.sandbox.slack.app import SlackConfig, build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--bot-token", default=SlackConfig.bot_token)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run(build_app(SlackConfig(bot_token=args.bot_token)), args.host, args.port)


if __name__ == "__main__":
    main()
