"""The optional sandbox tools a `Stack` can run (`Stack(tools=("jira", ...))`), one table row
each: the integration the sides file gets and the sandbox process it talks to. A tool is a row
here, not a branch in the stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from incident_sync.sandbox.jira.store import account_id
from incident_sync.sandbox.pagerduty.store import user_id

if TYPE_CHECKING:
    from incident_sync.devstack.stack import Stack

# The accounts incident-sync uses in the optional tools (the sandboxes derive user ids from
# the e-mail address, as the `actor` below does).
JIRA_USER, JIRA_TOKEN = "incident-sync@example.com", "sandbox-jira-token"
PD_USER, PD_TOKEN = "incident-sync@example.com", "sandbox-pd-token"
DD_API_KEY, DD_APP_KEY = "sandbox-dd-api-key", "sandbox-dd-app-key"
SLACK_TOKEN, SLACK_CHANNEL = "xoxb-sandbox-token", "C0SANDBOX01"


@dataclass(frozen=True)
class OptionalTool:
    """`integration(stack)`: its entry of the sides file (without `id`); `args(stack, port)`:
    the sandbox module's arguments. Secrets go as `--flag=value`: a random one may start with
    "-", which argparse would take for an option."""

    integration_id: str
    module: str
    integration: Callable[[Stack], dict[str, Any]]
    args: Callable[[Stack, int], list[str]]

    def hook(self, stack: Stack) -> str:
        return f"{stack.url('ingress')}/webhooks/{self.integration_id}"


def _listen(port: int) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(port)]


OPTIONAL: Final[Mapping[str, OptionalTool]] = {
    "jira": OptionalTool(
        "prod-jira",
        "incident_sync.sandbox.jira",
        lambda s: {
            "type": "jira",
            "base_url": s.url("jira"),
            "username": JIRA_USER,
            "api_key": JIRA_TOKEN,
            "actor": account_id(JIRA_USER),
            "webhook_secret": s.jira_secret,
            "options": {"project_key": "OPS"},  # X-Hub-Signature, the default
        },
        lambda s, port: [
            *_listen(port),
            *("--user", f"{JIRA_USER}:{JIRA_TOKEN}"),
            *("--webhook-url", OPTIONAL["jira"].hook(s)),
            f"--webhook-secret={s.jira_secret}",
        ],
    ),
    "pagerduty": OptionalTool(
        "prod-pd",
        "incident_sync.sandbox.pagerduty",
        lambda s: {
            "type": "pagerduty",
            "base_url": s.url("pagerduty"),
            "username": PD_USER,
            "api_key": PD_TOKEN,
            "actor": user_id(PD_USER),
            "webhook_secret": s.pagerduty_secret,
            "options": {"service_id": "PSVC001"},
        },
        lambda s, port: [
            *_listen(port),
            *("--api-token", PD_TOKEN, "--api-user", PD_USER),
            *("--webhook-url", OPTIONAL["pagerduty"].hook(s)),
            f"--webhook-secret={s.pagerduty_secret}",
        ],
    ),
    "datadog": OptionalTool(
        "prod-dd",
        "incident_sync.sandbox.datadog",
        lambda s: {
            "type": "datadog",
            "base_url": s.url("datadog"),
            "api_key": DD_API_KEY,
            "password": DD_APP_KEY,
            "webhook_secret": s.datadog_secret,
        },
        lambda s, port: [
            *_listen(port),
            *("--api-key", DD_API_KEY, "--app-key", DD_APP_KEY),
            *("--webhook-url", OPTIONAL["datadog"].hook(s)),
            f"--webhook-secret={s.datadog_secret}",
        ],
    ),
    "slack": OptionalTool(
        "ops-slack",
        "incident_sync.sandbox.slack",
        lambda s: {
            "type": "slack",
            "base_url": s.url("slack") + "/api",
            "api_key": SLACK_TOKEN,
            "options": {"channel": SLACK_CHANNEL},
        },
        lambda s, port: [*_listen(port), "--bot-token", SLACK_TOKEN],
    ),
}
