"""Helpers for the deploy checks: render the Helm chart, read its documents, pull metric names
out of PromQL. Helm and the CRD validators come from scripts/tools.sh (into .tools/)."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "incident-sync"
TOOLS = Path(os.environ.get("TOOLS_DIR", ROOT / ".tools"))
HELM = TOOLS / "bin" / "helm"
NODE_MODULES = TOOLS / "node" / "node_modules"
RELEASE = "sync"
# Every optional part of the chart switched on.
ALL_ON = (
    "reconciler.enabled=true",
    "otel.endpoint=http://collector:4318",
    "control.ingress.enabled=true",
)
NAMESPACE = "incident-sync"

Doc = dict[str, Any]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        raise AssertionError(f"{HELM} is missing: run scripts/bootstrap.sh (it runs tools.sh)")
    return subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(HELM), *args], capture_output=True, text=True, timeout=120, check=False
    )


@functools.cache
def _render(sets: tuple[str, ...]) -> tuple[Doc, ...]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for s in sets:
        args += ["--set", s]
    out = helm(*args)
    if out.returncode != 0:
        raise RenderError(out.stderr)
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


class RenderError(Exception):
    pass


def render(*sets: str) -> list[Doc]:
    """The chart's documents with `--set` values (cached; callers must not mutate them)."""
    return list(_render(tuple(sets)))


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def component(docs: list[Doc], kind: str, name: str) -> Doc:
    return named(docs, kind, f"{RELEASE}-incident-sync-{name}")


def container(deployment: Doc) -> Doc:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def kubernetes_validate(docs: list[Doc], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict over `docs` (written to a file in `tmp_path`)."""
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- PromQL ------------------------------------------------------------------------------------
# Grafana's macros and variables, replaced by something PromQL parses.
_GRAFANA = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)


def grafana_to_promql(expr: str) -> str:
    for macro, value in _GRAFANA.items():
        expr = expr.replace(macro, value)
    if (m := _LABEL_VALUES.match(expr)) is not None:
        expr = m.group(1)
    return _VARIABLE.sub("x", expr)


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names matched) of every vector selector in a PromQL expression;
    raises ValueError when the expression does not parse."""
    yield from _walk(promql_parser.parse(expr))


def _walk(node: Any) -> Iterator[tuple[str, set[str]]]:
    if isinstance(node, promql_parser.VectorSelector):
        labels = {m.name for m in node.matchers.matchers}
        name = node.name or next(
            (m.value for m in node.matchers.matchers if m.name == "__name__"), None
        )
        if name is not None:
            yield name, labels - {"__name__"}
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield from _walk(node.vector_selector)
        return
    for attr in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            yield from _walk(child)
    for arg in getattr(node, "args", None) or ():
        yield from _walk(arg)


def family(sample_name: str) -> str:
    """The metric family a series name belongs to (histogram and counter suffixes off)."""
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if sample_name.endswith(suffix):
            return sample_name[: -len(suffix)]
    return sample_name


def alert_exprs(docs: list[Doc]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in of_kind(docs, "PrometheusRule"):
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                out[r.get("alert") or r["record"]] = r["expr"]
    return out


def dashboard() -> Doc:
    board: Doc = json.loads((CHART / "files" / "dashboards" / "incident-sync.json").read_text())
    return board


def dashboard_exprs(board: Doc) -> dict[str, str]:
    """Panel title / variable name -> PromQL (Grafana macros replaced)."""
    out: dict[str, str] = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            out[f"{panel['title']} [{target['refId']}]"] = grafana_to_promql(target["expr"])
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            out[f"${var['name']}"] = grafana_to_promql(query)
    return out


FAUST_APP_ID = "incident-sync-outbound"


def faust_app_id() -> str:
    """The worker's faust App id (its consumer group), read from incident_sync.outbound.app."""
    tree = ast.parse((ROOT / "services/outbound/src/incident_sync/outbound/app.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "App"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
    raise AssertionError("faust.App(...) not found in incident_sync.outbound.app")
