"""The chart's values.schema.json: it covers every key of values.yaml, refuses a key it does
not know (a misspelt one would otherwise be ignored) and a value of the wrong type, at
`helm template` and at `helm install` alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.chart import CHART, RenderError, helm, render

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return _resolve(target)


def _closed_objects(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node that lists its properties, by its key path."""
    node = _resolve(node)
    if "properties" in node:
        yield path, node
        for key, child in node["properties"].items():
            yield from _closed_objects(child, f"{path}.{key}".lstrip("."))


def _value_paths(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """The key paths of `value` the schema must name (not inside an open map)."""
    schema = _resolve(schema)
    if not isinstance(value, dict) or "properties" not in schema:
        return
    for key, child in value.items():
        here = f"{path}.{key}".lstrip(".")
        yield here
        if key in schema["properties"]:
            yield from _value_paths(child, schema["properties"][key], here)


def test_values_yaml_is_valid_against_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(VALUES, SCHEMA, cls=jsonschema.Draft7Validator)


def test_the_schema_names_every_key_of_values_yaml_and_only_those() -> None:
    named = {path for path, _ in _closed_objects(SCHEMA)}
    properties = {
        f"{path}.{key}".lstrip(".")
        for path, node in _closed_objects(SCHEMA)
        for key in node["properties"]
    }
    in_values = set(_value_paths(VALUES, SCHEMA))
    missing = {p for p in in_values if p not in properties}
    assert not missing, f"keys of values.yaml the schema does not name: {sorted(missing)}"
    # Every key the schema allows is one values.yaml shows (as a key), so a user finds it;
    # `global` is Helm's own.
    text = (CHART / "values.yaml").read_text()
    unshown = {p for p in properties - {"global"} if f"{p.rsplit('.', 1)[-1]}:" not in text}
    assert not unshown, f"keys in the schema that values.yaml never shows: {sorted(unshown)}"
    # Objects whose keys are fixed refuse any other key.
    for path, node in _closed_objects(SCHEMA):
        assert node.get("additionalProperties") is False, path or "(top level)"
    assert named  # the walk found the tree


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("tenatn=acme", "'tenatn'"),  # top level
        ("ingress.pdb.minAvaliable=1", "'minAvaliable'"),  # nested
        ("outbound.keda.maxReplica=3", "'maxReplica'"),
        ("kafkaTopics.topics.inbund.name=sync.inbound", "'inbund'"),  # a map with fixed keys
    ],
)
def test_a_misspelt_key_fails_helm_template_naming_it(setting: str, named: str) -> None:
    with pytest.raises(RenderError) as refused:
        render(setting)
    message = str(refused.value)
    assert "additional properties" in message and named in message, message


@pytest.mark.parametrize(
    ("flag", "setting", "where"),
    [
        ("--set", "ingress.replicas=two", "/ingress/replicas"),
        ("--set-string", "outbound.keda.maxReplicas=6", "/outbound/keda/maxReplicas"),
        ("--set", "config.source=files", "/config/source"),
        ("--set", "kafka.ports[0]=99999", "/kafka/ports/0"),
        ("--set", "logLevel=verbose", "/logLevel"),  # Python's level names, upper or lower case
    ],
)
def test_a_value_of_the_wrong_type_or_range_fails(flag: str, setting: str, where: str) -> None:
    out = helm("template", "sync", str(CHART), flag, setting)
    assert out.returncode != 0
    assert f"at '{where}'" in out.stderr, out.stderr


def test_a_values_file_with_a_misspelt_nested_key_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "values.yaml"
    mine.write_text("outbound:\n  keda:\n    maxReplicas: 3\n    pollingIntervall: 5\n")
    out = helm("template", "sync", str(CHART), "-f", str(mine))
    assert out.returncode != 0
    assert "at '/outbound/keda'" in out.stderr and "'pollingIntervall'" in out.stderr
    mine.write_text("outbound:\n  keda:\n    maxReplicas: 3\n    pollingInterval: 5\n")
    assert helm("template", "sync", str(CHART), "-f", str(mine)).returncode == 0


def test_helm_install_refuses_a_misspelt_key_too() -> None:
    args = ("install", "sync", str(CHART), "--dry-run=client")
    assert helm(*args).returncode == 0
    out = helm(*args, "--set", "control.ingres.enabled=true")
    assert out.returncode != 0
    assert "'ingres'" in out.stderr, out.stderr


def test_values_the_services_accept_pass() -> None:
    assert render("logLevel=debug", "otel.samplerArg=0.5", "metrics.dashboard.labelValue=1")


def test_kubernetes_typed_values_stay_open() -> None:
    """Values that are Kubernetes objects (resources, affinity, selectors) are passed through:
    their fields are the API server's to check, so the schema does not pin them."""
    docs = render(
        "ingress.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
        ".weight=1",
        "ingress.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
        ".podAffinityTerm.topologyKey=kubernetes.io/hostname",
        "ingress.resources.limits.ephemeral-storage=1Gi",
    )
    assert docs
