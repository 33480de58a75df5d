"""A connector packaged outside the main tree registers through the entry point and
round-trips through the real pipeline.

The Echo connector (tests/plugins/echo_connector: its own distribution with its own
pyproject.toml, installed into the test environment by scripts/bootstrap.sh) names itself in
`[project.entry-points."incident_sync.connectors"]` and nowhere else: nothing in the main tree
knows it. Here the real broker, redis-server, the incident.io sandbox and the services run
with one integration of type `echo`, against the Echo tool (the plugin's own HTTP server, a
child process): an incident declared on the platform becomes an Echo record, and an edit made
in Echo flows back to the platform. The control API and `im` take the type and its options
like a built-in's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from incident_sync.connectors.registry import REGISTRY
from incident_sync.control.cli import main
from incident_sync.devstack import processes
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests import leakcheck

pytestmark = pytest.mark.integration

SYNC_USER, HUMAN = "incident-sync", "alice"


class Echo:
    """The Echo tool as a person uses it."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})

    def records_for(self, incident_id: str) -> list[dict[str, Any]]:
        r = self.http.get("/api/records", params={"incident_id": incident_id})
        r.raise_for_status()
        records: list[dict[str, Any]] = r.json()["records"]
        return records

    def edit(self, record_id: str, **fields: str) -> dict[str, Any]:
        r = self.http.patch(f"/api/records/{record_id}", json=fields)
        r.raise_for_status()
        record: dict[str, Any] = r.json()
        return record

    def writes(self) -> int:
        return int(self.http.get("/_stats").json()["api_writes"])


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools, Echo]]:
    # The stack's ports first: the tool's must be none of them (both are only free ports yet).
    stack = Stack()
    port = processes.free_port()
    while port in stack.ports.values():
        port = processes.free_port()
    token, human_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    hook_secret = secrets.token_urlsafe(24)
    echo = {
        "id": "prod-echo",
        "type": "echo",
        "base_url": f"http://127.0.0.1:{port}",
        "api_key": token,
        "actor": SYNC_USER,
        "webhook_secret": hook_secret,
        "options": {"label": "ops"},
    }
    # The stack's one integration is the plugin's (the sides file is the test's to write).
    stack.sides = {"integrations": [echo]}
    leakcheck.watch([*stack.secret_values(), token, human_token, hook_secret], "the plugin test")
    tool = processes.python_module(
        "echo-tool",
        "incident_sync_echo.tool",
        "--port",
        str(port),
        "--user",
        f"{SYNC_USER}:{token}",
        "--user",
        f"{HUMAN}:{human_token}",
        "--webhook-url",
        f"{stack.url('ingress')}/webhooks/prod-echo",
        "--webhook-secret",
        hook_secret,
        port=port,
    )
    stack.workdir.mkdir(parents=True, exist_ok=True)
    tool.log_path = stack.workdir / "echo-tool.log"
    tool.start()
    person = Echo(f"http://127.0.0.1:{port}", human_token)
    try:
        stack.start()
        hands = Tools(stack)
        try:
            yield stack, hands, person
        finally:
            hands.close()
            stack.stop()
    finally:
        person.http.close()
        tool.stop()


def test_the_plugin_is_registered_by_its_entry_point_only() -> None:
    spec = REGISTRY.specs["echo"]
    assert spec.connector.__module__ == "incident_sync_echo.connector"
    assert spec.capabilities == ("record store", "webhook source")


def test_an_incident_becomes_an_echo_record_and_an_edit_there_comes_back(
    env: tuple[Stack, Tools, Echo],
) -> None:
    _, tools, echo = env
    incident = tools.declare("Checkout errors", "5xx on /pay")
    iid = incident["id"]
    (record,) = wait_for(lambda: echo.records_for(iid), 30, "the Echo record")
    assert (record["title"], record["description"], record["status"]) == (
        "Checkout errors",
        "5xx on /pay",
        "open",
    )
    assert record["updated_by"] == SYNC_USER
    assert record["label"] == "ops"  # the integration's option, typed by the plugin's model

    echo.edit(record["id"], title="Checkout errors in EU", description="only EU cards")
    wait_for(lambda: tools.incident(iid)["name"] == "Checkout errors in EU", 30, "the rename")
    tools.quiesce()
    assert tools.incident(iid)["summary"] == "only EU cards"
    # The platform's echo of our write did not come back to Echo as another write, and our
    # own write's webhook from Echo was dropped as ours: one create, one person's edit.
    assert echo.writes() == 2
    assert len(echo.records_for(iid)) == 1


def test_the_control_api_and_im_take_the_plugins_type_and_options(
    env: tuple[Stack, Tools, Echo],
) -> None:
    stack, _, _ = env
    cli_env = {
        "IM_API_URL": stack.url("control"),
        "IM_TOKEN": stack.admin_token,
        "IM_TENANT": "default",
        "IM_CONFIG": "/nonexistent",
    }
    helped = CliRunner().invoke(main, ["integration", "create", "--help"], env=cli_env)
    assert helped.exit_code == 0 and "echo" in helped.output
    args = ["integration", "create", "second-echo", "--type", "echo", "--base-url", "http://x"]
    bad = CliRunner().invoke(main, [*args, "--option", "label=NOT OK"], env=cli_env)
    assert bad.exit_code == 2 and "options: label" in bad.output, bad.output
    made = CliRunner().invoke(main, [*args, "--option", "label=ok", "-o", "json"], env=cli_env)
    assert made.exit_code == 0, made.output
    with httpx.Client(base_url=stack.url("control")) as control:
        document = control.get("/api/v1/openapi.json").json()
    assert "label" in document["components"]["schemas"]["EchoOptions"]["properties"]
