"""The dependency direction of docs/architecture.md, read from the source: which component of
`incident_sync` may import which. The domain imports nothing of ours; no service imports
another; the production packages never import the developer kit at module level (`im dev up`
imports devstack inside the command, and says how to get it when it is missing)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = {
    "syncmodel": "libs/syncmodel",
    "syncstate": "libs/syncstate",
    "controlstore": "libs/controlstore",
    "runtime": "libs/runtime",
    "connectors": "libs/connectors",
    "ingress": "services/ingress",
    "outbound": "services/outbound",
    "reconciler": "services/reconciler",
    "control": "services/control",
    "sandbox": "libs/devkit",
    "devstack": "libs/devkit",
}
LIBS = {"syncmodel", "syncstate", "controlstore", "runtime", "connectors"}
ALLOWED = {
    "syncmodel": set(),
    "syncstate": {"syncmodel"},
    "runtime": {"syncmodel"},
    "connectors": {"syncmodel"},
    "controlstore": {"runtime", "syncmodel", "syncstate"},
    # No service imports another.
    "ingress": LIBS,
    "outbound": LIBS,
    "reconciler": LIBS,
    "control": LIBS,
    # The sandboxes stand in for the vendors: they share none of our code.
    "sandbox": set(),
    # It sets up the services: their settings (runtime) and the seeded control store.
    "devstack": {"controlstore", "runtime", "sandbox", "syncmodel"},
}


def package_dir(component: str) -> Path:
    return REPO / ROOTS[component] / "src" / "incident_sync" / component


def imports(component: str, *, top_level_only: bool) -> dict[str, set[str]]:
    """Component -> the modules (file names) importing it, for every `incident_sync.X` import
    in the component's files; `top_level_only` leaves out imports inside functions."""
    found: dict[str, set[str]] = {}
    for path in sorted(package_dir(component).rglob("*.py")):
        tree = ast.parse(path.read_text())
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        for node in nodes:
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "incident_sync" and len(parts) > 1 and parts[1] != component:
                    found.setdefault(parts[1], set()).add(path.name)
    return found


@pytest.mark.parametrize("component", sorted(ALLOWED))
def test_each_component_imports_only_what_it_may(component: str) -> None:
    assert package_dir(component).is_dir()
    used = imports(component, top_level_only=False)
    lazy_devkit = {"devstack"} if component == "control" else set()
    extra = set(used) - ALLOWED[component] - lazy_devkit
    assert not extra, {name: sorted(used[name]) for name in extra}


SERVICES = {"ingress", "outbound", "reconciler", "control"}


@pytest.mark.parametrize("component", sorted(LIBS | SERVICES))
def test_production_code_never_imports_the_developer_kit_at_load(component: str) -> None:
    used = imports(component, top_level_only=True)
    assert not {"sandbox", "devstack"} & set(used), used


def test_the_table_covers_every_component_on_disk() -> None:
    on_disk = {
        p.name
        for root in set(ROOTS.values())
        for p in (REPO / root / "src" / "incident_sync").iterdir()
        if p.is_dir() and p.name != "__pycache__"
    }
    assert on_disk == set(ALLOWED)
