"""`im dev up` (what `make run` starts): the whole system on this machine, here on a Redis
Cluster of three masters (`--redis-cluster`), usable with the `im` commands it prints, and
stopped, every child with it, by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests import leakcheck

pytestmark = pytest.mark.integration

IM = Path(sys.executable).parent / "im"
RUNNING = "running; Ctrl-C stops everything"


@pytest.fixture(scope="module")
def dev_up() -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [str(IM), "dev", "up", "--no-demo", "--redis-cluster"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if RUNNING in line:
                break
        assert lines and RUNNING in lines[-1], "\n".join(lines)
        yield proc, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def printed(lines: list[str], pattern: str) -> str:
    found = next((m for line in lines if (m := re.search(pattern, line))), None)
    assert found is not None, f"{pattern!r} not in:\n" + "\n".join(lines)
    return found.group(1)


def test_dev_up_runs_on_a_cluster_and_the_printed_im_commands_reach_it(
    dev_up: tuple[subprocess.Popen[str], list[str]],
) -> None:
    _, lines = dev_up
    api_url = printed(lines, r"IM_API_URL=(\S+)")
    token = printed(lines, r"IM_TOKEN=(\S+)")
    leakcheck.watch([token], "im dev up")
    assert printed(lines, r"Redis (\S+)").startswith("redis+cluster://"), lines
    listed = subprocess.run(  # noqa: S603 - our own CLI
        [str(IM), "integration", "list", "-o", "json"],
        env={**os.environ, "IM_API_URL": api_url, "IM_TOKEN": token, "IM_CONFIG": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "prod-snow" in {i["name"] for i in orjson.loads(listed.stdout)["items"]}


def test_sigterm_stops_it_and_every_child(
    dev_up: tuple[subprocess.Popen[str], list[str]],
) -> None:
    proc, lines = dev_up
    api_url = printed(lines, r"IM_API_URL=(\S+)")
    ingress = printed(lines, r"ingress +(http://\S+)")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    for url in (f"{api_url}/health", f"{ingress}/health"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
