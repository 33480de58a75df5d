"""A server `im` cannot reach: the control API and the ingress (`im sync`) fail alike, through
the one client (`cli.client.Api`): exit 1 and "error: cannot reach <it> at <url>: ..."."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from incident_sync.control.cli import main


@pytest.fixture
def closed_url() -> str:
    """An address nothing listens on (a port bound and closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("args", "var", "label"),
    [
        (["whoami"], "IM_API_URL", "the control API"),
        (["integration", "list"], "IM_API_URL", "the control API"),
        (["sync", "incident", "01ABC"], "IM_INGRESS_URL", "the ingress"),
        (
            ["sync", "servicenow", "0123", "--field", "short_description"],
            "IM_INGRESS_URL",
            "the ingress",
        ),
        (["sync", "record", "prod-jira", "10001", "-o", "json"], "IM_INGRESS_URL", "the ingress"),
    ],
)
def test_an_unreachable_server_is_exit_1_with_the_same_message(
    closed_url: str, args: list[str], var: str, label: str
) -> None:
    result = CliRunner().invoke(
        main, args, env={"IM_CONFIG": "/nonexistent", var: closed_url, "IM_TOKEN": "t"}
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: cannot reach {label} at {closed_url}: ")
    assert result.stdout == ""
