"""The worker reads by stage: each stage's package holds its faust wiring (`agent.py`) beside
its logic, and the logic can be imported (and tested) without building the faust App."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STAGES = ROOT / "services/outbound/src/incident_sync/outbound/stages"


def test_every_stage_has_its_agent_beside_its_logic() -> None:
    stages = sorted(p.name for p in STAGES.iterdir() if (p / "__init__.py").exists())
    assert stages == ["arbiter", "delivery", "gate", "hold", "relay"]
    for stage in stages:
        modules = {p.stem for p in (STAGES / stage).glob("*.py")} - {"__init__"}
        assert "agent" in modules and len(modules) > 1, stage


def test_a_stages_logic_imports_without_the_faust_app() -> None:
    logic = sorted(
        ".".join(("incident_sync.outbound.stages", p.parent.name, p.stem))
        for p in STAGES.glob("*/*.py")
        if p.stem not in ("__init__", "agent")
    )
    script = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in logic)
        + "assert 'incident_sync.outbound.app' not in sys.modules, 'the App was built'\n"
    )
    # A fresh interpreter (this one may have imported the App), on this one's path.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(  # noqa: S603 - this interpreter, our own modules
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
