"""The real `im` against the real control service and Redis: a subprocess for the exit codes
and the environment, click's runner (same code, in-process) for the rest. The connection test
runs against the ServiceNow sandbox as a real HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner, Result

from incident_sync.control.cli import main
from incident_sync.devstack import processes
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "cli"


@pytest.fixture(scope="module")
def snow_sandbox() -> Iterator[str]:
    port = processes.free_port()
    child = processes.python_module(
        "sandbox-servicenow",
        "incident_sync.sandbox.servicenow",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--user",
        "sync:right-password",
        port=port,
    ).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


def env(control: ControlService, token: str | None = None) -> dict[str, str]:
    return {
        "IM_API_URL": control.url,
        "IM_TOKEN": token or control.admin,
        "IM_TENANT": TENANT,
        "IM_CONFIG": "/nonexistent",
    }


def im(control: ControlService, *args: str, token: str | None = None, **kw: Any) -> Result:
    return CliRunner().invoke(main, list(args), env=env(control, token), **kw)


def im_json(control: ControlService, *args: str) -> Any:
    result = im(control, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def im_process(
    control: ControlService, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    im_bin = Path(sys.executable).parent / "im"
    return subprocess.run(  # noqa: S603 - our own CLI
        [str(im_bin), *args],
        env={**os.environ, **env(control, token)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_create_configure_get_and_exit_codes(control: ControlService, snow_sandbox: str) -> None:
    password = control.secret()
    created = im(
        control,
        "integration",
        "create",
        "prod-snow",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
        "--username",
        "sync",
        "--actor",
        "sync",
        "--secret",
        "password=-",
        "--option",
        "urgency=2",
        "--format",
        "json",
        input=password + "\n",
    )
    assert created.exit_code == 0, created.output
    view = orjson.loads(created.stdout)
    assert view["secrets"]["password"] == "set" and password not in created.output

    configured = im_json(
        control,
        "integration",
        "configure",
        "prod-snow",
        "--direction",
        "outbound",
        "--conflict-strategy",
        "manual-review",
        "--conflict-window",
        "2.5",
    )
    assert (configured["direction"], configured["conflict_strategy"]) == (
        "outbound",
        "manual-review",
    )
    assert configured["conflict_window_s"] == 2.5

    got = im_process(control, "integration", "get", "prod-snow")
    assert got.returncode == 0 and "manual-review" in got.stdout and password not in got.stdout
    listed = im_json(control, "integration", "list")
    assert [i["name"] for i in listed["items"]] == ["prod-snow"]

    assert im_process(control, "integration", "get", "nope").returncode == 3
    again = im_process(
        control,
        "integration",
        "create",
        "prod-snow",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
    )
    assert again.returncode == 5
    assert im_process(control, "integration", "configure", "prod-snow").returncode == 2
    assert (
        im_process(
            control, "integration", "configure", "prod-snow", "--direction", "sideways"
        ).returncode
        == 2
    )
    viewer = control.token("viewer", tenants=[TENANT])
    denied = im_process(control, "integration", "delete", "prod-snow", "--yes", token=viewer)
    assert denied.returncode == 4 and "may not" in denied.stderr
    assert im_process(control, "whoami", token="ims_000000000000_bad").returncode == 4
    assert "Exit codes" in im_process(control, "--help").stdout


def test_connection_test_passes_and_fails(control: ControlService, snow_sandbox: str) -> None:
    im(
        control,
        "integration",
        "create",
        "snow-test",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
        "--username",
        "sync",
        "--secret",
        "password=right-password",
    )
    ok = im(control, "integration", "test", "snow-test")
    assert ok.exit_code == 0 and "ok" in ok.output, ok.output
    im(control, "integration", "configure", "snow-test", "--secret", "password=wrong")
    failed = im(control, "integration", "test", "snow-test", "--format", "json")
    assert failed.exit_code == 1
    assert orjson.loads(failed.stdout)["ok"] is False


def test_field_ownership_set_and_list(control: ControlService, snow_sandbox: str) -> None:
    im(
        control,
        "integration",
        "create",
        "snow-own",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
    )
    defaults = im_json(control, "integration", "field-ownership", "list", "snow-own")
    assert defaults["uses_type_defaults"] is True
    assert {r["field"] for r in defaults["rules"]} == {
        "severity",
        "title",
        "description",
        "assignee",
        "comment",
    }
    im(
        control,
        "integration",
        "field-ownership",
        "set",
        "snow-own",
        "severity",
        "--owner",
        "platform",
        "--priority",
        "10",
    )
    rules = im_json(
        control,
        "integration",
        "field-ownership",
        "set",
        "snow-own",
        "assigned_to",
        "--owner",
        "platform",
        "--priority",
        "5",
    )
    by_field = {r["field"]: r for r in rules["rules"]}
    assert by_field["severity"] == {
        "field": "severity",
        "owner": "platform",
        "priority": 10,
        "source": "configured",
    }
    assert by_field["assignee"]["owner"] == "platform" and by_field["assignee"]["priority"] == 5
    assert "title" in by_field  # the defaults were kept when the first rule was set
    table = im(control, "integration", "field-ownership", "list", "snow-own")
    assert table.exit_code == 0 and "severity" in table.output and "configured" in table.output
    bad = im(
        control,
        "integration",
        "field-ownership",
        "set",
        "snow-own",
        "colour",
        "--owner",
        "platform",
    )
    assert bad.exit_code == 2


def test_get_yaml_round_trips_through_apply(
    control: ControlService, snow_sandbox: str, tmp_path: Path
) -> None:
    password, hook = control.secret(), control.secret()
    im(
        control,
        "integration",
        "create",
        "snow-yaml",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
        "--username",
        "sync",
        "--secret",
        f"password={password}",
        "--secret",
        f"webhook_secret={hook}",
    )
    im(control, "integration", "pause", "snow-yaml")
    dumped = im(control, "get", "integration", "snow-yaml", "-o", "yaml")
    assert dumped.exit_code == 0 and password not in dumped.output
    doc = yaml.safe_load(dumped.output)
    assert doc["spec"]["secrets"]["password"] == "set" and doc["spec"]["paused"] is True
    path = tmp_path / "snow.yaml"
    path.write_text(dumped.output)
    applied = im_json(control, "apply", "-f", str(path))
    assert applied["items"][0]["result"] == "unchanged"
    # The secrets survived the round trip: the connection test can still log in... with
    # the stored value, which the API never showed.
    status = im_json(control, "integration", "get", "snow-yaml")
    assert status["secrets"] == {
        "api_key": "unset",
        "password": "set",
        "oauth_client_secret": "unset",
        "webhook_secret": "set",
    }

    # Declarative changes: a new integration from ${ENV}, a changed one, a cleared secret.
    doc["spec"]["direction"] = "inbound"
    doc["spec"]["secrets"]["webhook_secret"] = "unset"
    new: dict[str, Any] = {
        "apiVersion": "incident-sync/v1",
        "kind": "Integration",
        "metadata": {"name": "snow-new", "tenant": TENANT},
        "spec": {
            "type": "servicenow",
            "base_url": snow_sandbox,
            "username": "sync",
            "secrets": {"password": "${SNOW_PW}"},
        },
    }
    path.write_text(yaml.safe_dump_all([doc, new]))
    os.environ["SNOW_PW"] = "right-password"
    try:
        applied = im_json(control, "apply", "-f", str(path))
    finally:
        del os.environ["SNOW_PW"]
    assert [i["result"] for i in applied["items"]] == ["configured", "created"]
    changed = im_json(control, "integration", "get", "snow-yaml")
    assert changed["direction"] == "inbound" and changed["secrets"]["webhook_secret"] == "unset"
    assert changed["secrets"]["password"] == "set" and changed["paused"] is True
    assert im(control, "integration", "test", "snow-new").exit_code == 0

    missing = {**new, "spec": {**new["spec"], "secrets": {"password": "${NOT_SET_ANYWHERE}"}}}
    path.write_text(yaml.safe_dump(missing))
    assert im(control, "apply", "-f", str(path)).exit_code == 2


def test_pause_resume_delete_sync_status_and_audit(
    control: ControlService, snow_sandbox: str
) -> None:
    im(
        control,
        "integration",
        "create",
        "snow-life",
        "--type",
        "servicenow",
        "--base-url",
        snow_sandbox,
    )
    assert im_json(control, "integration", "pause", "snow-life")["paused"] is True
    status = im_json(control, "integration", "sync-status", "snow-life")
    assert status["paused"] is True
    assert status["counters"] == {
        "outbound_success": 0,
        "outbound_failed": 0,
        "inbound_success": 0,
        "inbound_failed": 0,
        "conflicts_detected": 0,
        "conflicts_resolved": 0,
        "drift_discrepancies": 0,
    }
    assert im_json(control, "integration", "resume", "snow-life")["paused"] is False
    people = im(control, "integration", "sync-status", "snow-life")
    assert people.exit_code == 0 and "outbound" in people.output
    assert im(control, "integration", "delete", "snow-life", "--yes").exit_code == 0
    trail = im_json(control, "audit", "--name", "snow-life")["items"]
    assert [e["action"] for e in trail] == [
        "integration.delete",
        "integration.resume",
        "integration.pause",
        "integration.create",
    ]
    assert trail[0]["actor"]["role"] == "platform.administrator"
    assert trail[0]["before"]["id"] == "snow-life" and trail[0]["after"] is None
    assert trail[1]["before"]["paused"] is True and trail[1]["after"]["paused"] is False
    assert im(control, "audit").exit_code == 0


def test_tokens_and_keys(control: ControlService) -> None:
    made = im_json(
        control,
        "token",
        "create",
        "--name",
        "ci",
        "--role",
        "integration.manager",
        "--scope",
        f"tenant:{TENANT}",
    )
    whoami = im_process(control, "whoami", "--format", "json", token=made["token"])
    assert orjson.loads(whoami.stdout)["role"] == "integration.manager"
    listed = im_json(control, "token", "list")
    assert made["id"] in {t["id"] for t in listed["items"]}
    assert made["token"] not in orjson.dumps(listed).decode()
    assert im(control, "token", "revoke", made["id"]).exit_code == 0
    assert im_process(control, "whoami", token=made["token"]).returncode == 4
    assert (
        im(
            control, "token", "create", "--name", "x", "--role", "viewer", "--scope", "team:a"
        ).exit_code
        == 2
    )

    keys = im_json(control, "keys", "status")
    assert keys["pending"] == 0 and keys["primary"] in keys["configured"]
    rotated = im_json(control, "keys", "rotate")
    assert rotated["resealed_records"] == 0 and rotated["pending"] == 0
    generated = im(control, "keys", "generate")
    assert generated.exit_code == 0 and len(generated.output.strip()) == 43
