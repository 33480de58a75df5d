"""The declare rule (`IntegrationConfig.declare`) through the control API: stored as given,
refused at write time with a 422 naming the bad condition (create, PUT, PATCH, `im apply`),
and in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from incident_sync.control.cli import main
from tests.integration.control.service import ControlService
from tests.integration.control.test_connector_options import refused

pytestmark = pytest.mark.integration

TENANT = "declare"
URL = f"/api/v1/tenants/{TENANT}/integrations"
P1 = {"when": {"all": [{"field": "severity", "equals": "critical"}]}}


def snow(**extra: Any) -> dict[str, Any]:
    return {"type": "servicenow", "base_url": "https://acme.service-now.com", **extra}


BAD: list[tuple[Any, str]] = [
    ({"when": {"all": [{"field": "severity"}]}}, "declare.when.all.0"),  # no test
    ({"when": {"all": [{"field": "severity", "equals": "x", "in": ["x"]}]}}, "declare.when"),
    ({"when": {"all": [{"field": "severity", "equal": "critical"}]}}, "equal"),  # unknown key
    ({"whenever": {}}, "declare"),
    ({}, "declare.when"),
    ("P1", "declare"),
    # A field the integration never sees (no mapping takes it in), and `tool.` naming none.
    ({"when": {"all": [{"field": "custom.Team", "equals": "x"}]}}, "declare.when.all.0"),
    ({"when": {"all": [{"field": "tool.", "equals": "x"}]}}, "when.all.0"),
]


@pytest.mark.parametrize(("rule", "named"), BAD)
def test_a_bad_rule_is_refused_naming_it(control: ControlService, rule: Any, named: str) -> None:
    with control.client(control.admin) as client:
        refused(client.post(URL, json={"name": "bad-one", **snow(declare=rule)}), named)
        refused(client.put(f"{URL}/bad-two", json=snow(declare=rule)), named)
        assert client.get(f"{URL}/bad-one").status_code == 404


def test_a_rule_is_stored_and_a_patch_is_held_to_it(control: ControlService) -> None:
    with control.client(control.admin) as client:
        made = client.post(URL, json={"name": "snow-p1", **snow(declare=P1)})
        assert made.status_code == 201, made.text
        (condition,) = made.json()["declare"]["when"]["all"]
        assert (condition["field"], condition["equals"]) == ("severity", "critical")
        refused(
            client.patch(f"{URL}/snow-p1", json={"declare": {"when": {"all": [{}]}}}), "declare"
        )
        off = client.patch(f"{URL}/snow-p1", json={"declare": None})
        assert off.status_code == 200, off.text
        assert off.json()["declare"] is None
        bare = client.post(URL, json={"name": "snow-off", **snow()})
        assert bare.json()["declare"] is None  # off by default
        document = client.get("/api/v1/openapi.json").json()
    assert "Declare" in document["components"]["schemas"]


def test_apply_refuses_a_manifest_with_a_bad_rule(control: ControlService, tmp_path: Path) -> None:
    doc = {
        "apiVersion": "incident-sync/v1",
        "kind": "Integration",
        "metadata": {"name": "snow-apply", "tenant": TENANT},
        "spec": {**snow(declare={"when": {"all": [{"field": "severity"}]}}), "secrets": {}},
    }
    path = tmp_path / "snow.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {"IM_API_URL": control.url, "IM_TOKEN": control.admin, "IM_TENANT": TENANT}
    env["IM_CONFIG"] = "/nonexistent"
    result = CliRunner().invoke(main, ["apply", "-f", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert "declare" in result.output
    with control.client(control.admin) as client:
        assert client.get(f"{URL}/snow-apply").status_code == 404
