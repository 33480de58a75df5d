"""The pure domain names no tool: every tool's specifics (its type, fields, options, default
ownership, forced direction, the seed guide's blocks about it) live in its connector package,
which registers them (`incident_sync.connectors` entry points). The issue's check is
`git grep -i -E "servicenow|jira|pagerduty|datadog|slack|incident\\.?io" libs/syncmodel`."""

from __future__ import annotations

import re
from pathlib import Path

SYNCMODEL = Path(__file__).resolve().parents[2] / "libs" / "syncmodel"
TOOL_NAMES = re.compile(r"servicenow|jira|pagerduty|datadog|slack|incident\.?io", re.IGNORECASE)


def test_libs_syncmodel_names_no_tool() -> None:
    files = [p for p in SYNCMODEL.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files, SYNCMODEL
    hits = [
        f"{path.relative_to(SYNCMODEL)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if TOOL_NAMES.search(line)
    ]
    assert hits == []
