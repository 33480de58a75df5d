"""What `pip install incident-sync` puts on a machine: one top-level name, `incident_sync`,
with the services and their libraries and nothing of the developer kit; and one version,
from the git tags, shown by `im --version` and used as the chart's appVersion."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from tests.deploy.chart import CHART, ROOT

COMPONENTS = [
    "syncmodel", "syncstate", "controlstore", "runtime", "connectors",
    "ingress", "outbound", "reconciler", "control",
]  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    (built,) = out.glob("incident_sync-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "-q", "--target", str(target), str(wheel)],
        check=True, timeout=120,
    )  # fmt: skip
    return target


def run_installed(target: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Python with the installed wheel and the dependencies of this environment only: `-S`
    skips site-packages' .pth files, so the checkout's editable roots are not on the path."""
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), deps])}
    return subprocess.run(  # noqa: S603 - this interpreter, the test's own code
        [sys.executable, "-S", "-c", code],
        env=env, cwd=target, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_wheel_holds_one_top_level_name_and_no_developer_kit(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"incident_sync"}
    packages = {n.split("/")[1] for n in names if n.startswith("incident_sync/")}
    assert packages == set(COMPONENTS)
    assert not any("sandbox" in n or "devstack" in n for n in names)
    # A PEP 420 namespace: no incident_sync/__init__.py to clash between distributions.
    assert "incident_sync/__init__.py" not in names


def test_installed_it_adds_only_incident_sync_and_imports_from_there(installed: Path) -> None:
    entries = {p.name for p in installed.iterdir()}
    assert {e for e in entries if not e.endswith(".dist-info") and e != "bin"} == {"incident_sync"}
    code = (
        "import importlib\n"
        f"for c in {COMPONENTS!r}:\n"
        "    m = importlib.import_module('incident_sync.' + c)\n"
        "    print(c, m.__file__)\n"
        "import incident_sync.control.cli, incident_sync.ingress.app\n"
        "try:\n"
        "    import incident_sync.devstack\n"
        "except ModuleNotFoundError:\n"
        "    print('no devkit')\n"
    )
    result = run_installed(installed, code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "no devkit"
    for line in lines[:-1]:
        _, path = line.split(" ", 1)
        assert Path(path).resolve().is_relative_to(installed.resolve()), line


def test_im_version_is_the_package_version_and_the_charts_app_version(installed: Path) -> None:
    result = run_installed(
        installed, "from incident_sync.control.cli import main; main(['--version'])"
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout.strip().rsplit(" ", 1)[-1]
    dist_info = next(installed.glob("incident_sync-*.dist-info"))
    assert dist_info.name == f"incident_sync-{shown}.dist-info"
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    # Between tags the version is the last tag's plus .postN.devM: its release is the chart's.
    assert ".".join(map(str, Version(shown).release)) == chart["appVersion"]
    tag = subprocess.run(
        # git from PATH, as the build backend finds it
        ["git", "describe", "--tags", "--abbrev=0", "--match", "v*"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if tag.returncode == 0:  # a clone with its tags: the version is derived from the last one
        assert tag.stdout.strip() == f"v{chart['appVersion']}"


def test_im_dev_up_without_the_developer_kit_says_how_to_get_it(installed: Path) -> None:
    result = run_installed(
        installed, "from incident_sync.control.cli import main; main(['dev', 'up', '--no-demo'])"
    )
    assert result.returncode == 2, result.stderr
    assert "pip install incident-sync-devkit" in result.stderr
    assert "Traceback" not in result.stderr
