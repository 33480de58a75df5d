"""Each tool's options are its connector's typed model: the control API refuses a bad, unknown
or mistyped option on create, PUT, PATCH and `im apply` with a 422 naming it (before, a bad
value was stored and failed at the first delivery), and the models are in the OpenAPI
document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from incident_sync.connectors.registry import REGISTRY
from incident_sync.control.cli import main
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "opts"


def integrations(control: ControlService) -> str:
    return f"/api/v1/tenants/{TENANT}/integrations"


def refused(answer: httpx.Response, *names: str) -> str:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid"
    for name in names:
        assert name in body["reason"], body["reason"]
    return str(body["reason"])


def slack(**options: Any) -> dict[str, Any]:
    return {"type": "slack", "base_url": "https://slack.com/api", "options": options}


def jira(**options: Any) -> dict[str, Any]:
    return {"type": "jira", "base_url": "https://acme.atlassian.net", "options": options}


BAD: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    (slack(channel="C0123", chanel="C0123"), ("not an option of slack: chanel",)),
    (slack(channel="C0123", history_pages="lots"), ("options: history_pages",)),
    (slack(channel="C0123", history_pages=True), ("options: history_pages",)),
    (slack(channel="C0123", history_pages=500), ("options: history_pages",)),
    (slack(channel=7), ("options: channel",)),
    (jira(priority_map="Highest"), ("options: priority_map",)),
    (jira(priority_map="Highest=P9"), ("options: priority_map",)),
    (jira(comment_visibility="customers"), ("options: comment_visibility",)),
    (
        {"type": "servicenow", "base_url": "https://x", "options": {"column_lengths": "x=y"}},
        ("options: column_lengths",),
    ),
]


@pytest.mark.parametrize(("body", "names"), BAD)
def test_create_and_put_refuse_a_bad_option_naming_it(
    control: ControlService, body: dict[str, Any], names: tuple[str, ...]
) -> None:
    with control.client(control.admin) as client:
        refused(client.post(integrations(control), json={"name": "bad-one", **body}), *names)
        refused(client.put(f"{integrations(control)}/bad-two", json=body), *names)
        assert client.get(f"{integrations(control)}/bad-one").status_code == 404
        assert client.get(f"{integrations(control)}/bad-two").status_code == 404


def test_good_options_are_stored_as_given_and_a_patch_is_held_to_them(
    control: ControlService,
) -> None:
    with control.client(control.admin) as client:
        made = client.post(
            integrations(control),
            json={"name": "ops-slack", **slack(channel="C0123", history_pages="7")},
        )
        assert made.status_code == 201, made.text
        assert made.json()["options"] == {"channel": "C0123", "history_pages": "7"}
        url = f"{integrations(control)}/ops-slack"
        # With the type given, a bad option is the body's own fault: 422 naming it; without
        # it too, when no tool type takes the options.
        refused(client.patch(url, json=slack(history_pages="0")), "options: history_pages")
        bare = client.patch(url, json={"options": {"channel": "C1", "history_pages": "lots"}})
        refused(bare, "options: history_pages")
        # Without it, the body may be right for another tool: it conflicts with the stored
        # type (409), still naming the option.
        patched = client.patch(url, json={"options": {"project_key": "OPS"}})  # Jira's
        assert patched.status_code == 409, patched.text
        assert "not an option of slack: project_key" in patched.json()["reason"]
        fine = client.patch(url, json={"options": {"channel": "C1", "history_pages": 2}})
        assert fine.status_code == 200, fine.text
        assert fine.json()["options"] == {"channel": "C1", "history_pages": 2}


def test_apply_refuses_a_manifest_with_a_bad_option(
    control: ControlService, tmp_path: Path
) -> None:
    doc = {
        "apiVersion": "incident-sync/v1",
        "kind": "Integration",
        "metadata": {"name": "jira-apply", "tenant": TENANT},
        "spec": {**jira(priority_map="Highest=P1,Hgh"), "secrets": {}},
    }
    path = tmp_path / "jira.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {"IM_API_URL": control.url, "IM_TOKEN": control.admin, "IM_TENANT": TENANT}
    env["IM_CONFIG"] = "/nonexistent"
    result = CliRunner().invoke(main, ["apply", "-f", str(path)], env=env)
    assert result.exit_code == 2, result.output  # the server refused the input (422)
    assert "priority_map" in result.output
    with control.client(control.admin) as client:
        assert client.get(f"{integrations(control)}/jira-apply").status_code == 404


def test_the_openapi_document_holds_each_tools_options_model(control: ControlService) -> None:
    with control.client(control.admin) as client:
        document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    for tool, spec in REGISTRY.specs.items():
        name = spec.options.__name__
        assert set(schemas[name]["properties"]) == set(spec.options.model_fields), tool
        assert schemas[name]["additionalProperties"] is False
    branches = schemas["IntegrationCreate"]["anyOf"]
    by_type = {b["properties"]["type"]["const"]: b["properties"]["options"] for b in branches}
    assert by_type["slack"]["anyOf"][0] == {"$ref": "#/components/schemas/SlackOptions"}
    assert set(by_type) == set(REGISTRY.types())
    history = schemas["SlackOptions"]["properties"]["history_pages"]
    assert {"type": "integer", "minimum": 1, "maximum": 50} in history["anyOf"]
