"""The domain (`incident_sync.syncmodel`) reads no file and no environment variable: the
sources read (`incident_sync.runtime.configfiles`) and hand it what they read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SYNCMODEL = Path(__file__).resolve().parents[2] / "libs/syncmodel/src/incident_sync/syncmodel"
IO_MODULES = {"os", "pathlib", "io", "shutil", "tempfile", "glob", "socket", "subprocess"}
IO_CALLS = {"open", "read_bytes", "read_text", "write_bytes", "write_text", "iterdir", "getenv"}


@pytest.mark.parametrize("path", sorted(SYNCMODEL.glob("*.py")), ids=lambda p: p.name)
def test_no_file_or_environment_access(path: Path) -> None:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in IO_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in IO_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name in IO_CALLS:
                found.append(f"{name}() at line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f"environ at line {node.lineno}")
    assert not found, found
