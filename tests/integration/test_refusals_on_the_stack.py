"""What the running services tell a caller who names a record that does not exist, or who
sends a request aiohttp cannot parse, and what they log for it: the real stack (broker,
redis-server, sandboxes, control, ingress, worker, reconciler as child processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import run_im, start_stack

pytestmark = pytest.mark.integration
NO_SUCH_INCIDENT = "01NOSUCHINCIDENT0000000000"
NO_SUCH_TICKET = "0" * 32


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def log_lines(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The JSON lines of a child's log (other lines, e.g. a start-up banner, skipped)."""
    out = []
    for line in (stack.workdir / f"{name}.log").read_text(errors="replace").splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def im_sync(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`im sync ...` (it talks to the ingress), as an operator runs it."""
    return subprocess.run(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).parent / "im"), "sync", *args],
        env={
            **os.environ,
            "IM_CONFIG": "/nonexistent",
            "IM_INGRESS_URL": stack.url("ingress"),
            "SYNC_API_TOKEN": stack.sync_token,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_manual_sync_through_the_ingress_of_a_missing_record_is_404(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    for path in (f"/sync/incident/{NO_SUCH_INCIDENT}", f"/sync/servicenow/{NO_SUCH_TICKET}"):
        answer = tools.ingress.post(path)
        assert answer.status_code == 404, answer.text
        body = answer.json()
        assert body["error"] == "not_found" and "has no record" in body["reason"]
    done = im_sync(stack, "incident", NO_SUCH_INCIDENT)
    assert done.returncode == 3, done.stderr  # the CLI's "not found"
    # As every command says an error: the server's reason and status, on stderr.
    assert done.stderr.startswith("error: ") and NO_SUCH_INCIDENT in done.stderr
    assert "(HTTP 404)" in done.stderr and done.stdout == ""


def test_im_sync_goes_through_the_clis_client(env: tuple[Stack, Tools], tmp_path: Path) -> None:
    """`im sync`: `-o json|yaml|table`, the exit codes of every command, the ingress and its
    token from a context of im.toml."""
    stack, tools = env
    incident = tools.declare("Synced by hand", "summary")
    done = im_sync(stack, "incident", incident["id"], "-o", "json")
    assert done.returncode == 0, done.stderr
    answer = orjson.loads(done.stdout)
    assert answer["status"] == "accepted" and answer["event_id"]
    as_yaml = im_sync(stack, "incident", incident["id"], "-o", "yaml")
    assert as_yaml.returncode == 0 and "status: accepted" in as_yaml.stdout
    table = im_sync(stack, "incident", incident["id"])
    assert table.stdout.startswith(f"queued a sync of incident/{incident['id']}: event ")
    wrong = im_sync(stack, "incident", incident["id"], SYNC_API_TOKEN="not-the-token")
    assert wrong.returncode == 4, wrong.stderr  # unauthorized, as for the control API
    assert "(HTTP 401)" in wrong.stderr
    unknown = im_sync(stack, "record", "no-such-integration", "10001")
    assert unknown.returncode == 3 and "no integration 'no-such-integration'" in unknown.stderr
    # From a context: the ingress's address and its token.
    config = tmp_path / "im.toml"
    config.write_text(
        f'current_context = "local"\n[contexts.local]\ningress_url = "{stack.url("ingress")}"\n'
        f'sync_token = "{stack.sync_token}"\n'
    )
    by_context = im_sync(
        stack,
        "incident",
        incident["id"],
        "-o",
        "json",
        IM_CONFIG=str(config),
        IM_INGRESS_URL="",
        SYNC_API_TOKEN="",
    )
    assert by_context.returncode == 0, by_context.stderr
    assert orjson.loads(by_context.stdout)["status"] == "accepted"


def test_a_manual_sync_of_a_linked_record_gone_from_its_tool(env: tuple[Stack, Tools]) -> None:
    """One record: the control API asks the tool first (404). Every linked record: queued,
    and the worker drops the refresh of the one gone with a warning, never a traceback."""
    stack, tools = env
    incident = tools.declare("Ticket deleted behind our back", "summary")
    (ticket,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    tools.drop_webhooks("servicenow", 1.0)  # its delete webhook is lost: the link stays
    try:
        tools.delete_snow(ticket["sys_id"])
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    sys_id = ticket["sys_id"]
    api = f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    answer = httpx.post(f"{api}/sync/{sys_id}", headers=auth)
    assert answer.status_code == 404, answer.text
    assert answer.json()["reason"] == f"prod-snow has no record {sys_id!r}"
    code, _ = run_im(stack, "integration", "sync", "prod-snow", "--record", sys_id)
    assert code == 3

    queued = httpx.post(f"{api}/sync", headers=auth)
    assert queued.status_code == 202, queued.text
    assert sys_id in [r["record_id"] for r in queued.json()["records"]]

    def dropped() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in log_lines(stack, "outbound")
                if e.get("external_id") == sys_id and "does not have" in str(e.get("msg"))
            ),
            None,
        )

    entry = wait_for(dropped, 30, "the worker's word on the refresh")
    assert entry["level"] == "warning" and "exc" not in entry
    tools.quiesce()
    failures = [e for e in log_lines(stack, "outbound") if e.get("level") == "error" or "exc" in e]
    assert failures == []


@pytest.mark.parametrize("service", ["ingress", "control", "reconciler", "outbound"])
def test_a_request_aiohttp_cannot_parse_is_a_warning_in_the_log(
    env: tuple[Stack, Tools], service: str
) -> None:
    stack, _ = env
    with socket.create_connection(("127.0.0.1", stack.ports[service]), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon in this header\r\n\r\n")
        assert raw.recv(64).startswith(b"HTTP/1.")  # answered (400), not dropped

    def logged() -> list[dict[str, Any]] | None:
        found = [e for e in log_lines(stack, service) if e.get("logger") == "aiohttp.server"]
        return found or None

    (entry,) = wait_for(logged, 15, f"the {service}'s log line")
    assert entry["level"] == "warning"
    assert entry["error"] == "BadHttpMessage (400): Invalid header token"
    assert "exc" not in entry  # no traceback for a client's mistake
