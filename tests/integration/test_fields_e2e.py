"""`im integration fields` and `im platform fields` on the real stack: the control API builds
the side's connector, which reads the sandbox's dictionary and choice tables (ServiceNow) and
custom fields and options (incident.io); a tool that fails is a 502 with its reason, a tool
type that lists no fields a 409, and a role that may not read the integration a 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools
from tests.integration.conftest import im, run_im, start_stack

pytestmark = pytest.mark.integration
API = "/api/v1/tenants/default"


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def by_name(listed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in listed["fields"]}


def admin(stack: Stack) -> httpx.Client:
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    return httpx.Client(base_url=stack.url("control"), headers=headers, timeout=30)


def test_servicenow_fields_come_from_its_dictionary(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    listed = im(stack, "integration", "fields", "prod-snow")
    assert (listed["name"], listed["type"]) == ("prod-snow", "servicenow")
    fields = by_name(listed)
    group = fields["assignment_group"]
    assert (group["kind"], group["reference"]) == ("reference", "sys_user_group")
    category = fields["category"]
    assert category["kind"] == "option"
    assert {"inquiry", "software", "hardware", "network", "database"} <= set(category["allowed"])
    assert fields["short_description"]["max_length"] == 160
    assert fields["state"]["allowed"] == ["1", "2", "3", "6", "7", "8"]
    assert fields["work_notes"]["kind"] == "text"


def test_the_platform_lists_its_custom_fields_with_their_options(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    listed = im(stack, "platform", "fields")
    assert listed["type"] == "incidentio"
    fields = by_name(listed)
    assert {"title", "description", "status", "severity", "assignee"} <= set(fields)
    assert fields["priority"]["allowed"] == ["P1", "P2", "P3", "P4", "P5"]
    assert fields["custom.Affected team"]["allowed"] == ["Payments", "Search", "Platform"]
    assert fields["comment"]["kind"] == "text"


def test_a_tool_that_fails_is_a_502_with_its_reason(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tools.api_faults("servicenow", fail_status=500, fail_count=1000, path_contains="sys_dictionary")
    try:
        with admin(stack) as client:
            r = client.get(f"{API}/integrations/prod-snow/fields")
        code, _ = run_im(stack, "integration", "fields", "prod-snow")
    finally:
        tools.api_faults("servicenow")
    assert r.status_code == 502
    assert r.json()["error"] == "bad_gateway" and "500" in r.json()["reason"]
    assert code == 1
    assert stack.secret_values() and not any(s in r.text for s in stack.secret_values())


def test_a_tool_type_without_a_field_catalogue_is_a_409(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    with admin(stack) as client:
        made = client.put(
            f"{API}/integrations/team-chat",
            json={
                "type": "slack",
                "base_url": "http://127.0.0.1:9",
                "api_key": "xoxb-unused",
                "options": {"channel": "C0123456789"},
            },
        )
        assert made.status_code in (200, 201), made.text
        r = client.get(f"{API}/integrations/team-chat/fields")
    assert r.status_code == 409
    assert "slack" in r.json()["reason"] and "field" in r.json()["reason"]
    code, _ = run_im(stack, "integration", "fields", "team-chat")
    assert code == 5


def test_a_role_that_may_not_read_the_integration_is_refused(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    with admin(stack) as client:
        viewer = client.post(
            "/api/v1/tokens",
            json={"name": "watcher", "role": "viewer", "scope": {"tenants": ["default"]}},
        ).json()["token"]
    headers = {"Authorization": f"Bearer {viewer}"}
    with httpx.Client(base_url=stack.url("control"), headers=headers, timeout=30) as client:
        for path in ("/integrations/prod-snow/fields", "/platform/fields"):
            r = client.get(API + path)
            assert r.status_code == 403, path
            assert "may not" in r.json()["reason"]
    code, _ = run_im(stack, "--token", viewer, "integration", "fields", "prod-snow")
    assert code == 4
