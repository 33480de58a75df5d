"""No secret in any log the test suite produces.

Every temporary file of the run (the stacks' work directories, every child process's log,
the control services' logs) lands under one session directory, and the pytest process's own
log records go to a file there too. The secrets the suite hands to the system are registered
here (`watch`), and when the run ends, after every test and fixture (the stacks stopped, their
last lines written), the session hook in tests/conftest.py scans every log under the
directory for them and for the shapes of credentials in general (a Bearer or Basic header
value, a Slack bot token, a Svix signing secret): a leak fails the run (`verdict`).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Credential shapes that must never be written to a log, whatever their value.
SHAPES = {
    "bearer token": re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "basic credentials": re.compile(r"Basic\s+[A-Za-z0-9+/]{12,}={0,2}"),
    "PagerDuty token header": re.compile(r"Token token=[A-Za-z0-9._-]{8,}"),
    "Slack bot token": re.compile(r"xoxb-[A-Za-z0-9-]{8,}"),
    "Svix signing secret": re.compile(r"whsec_[A-Za-z0-9+/=]{16,}"),
}
LOG_SUFFIXES = (".log", ".jsonl")
# Short strings (a test's "secret") would match unrelated text; real ones are longer.
MIN_SECRET_LEN = 8


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    what: str  # a secret's description (never its value) or a credential shape


@dataclass
class Registry:
    secrets: dict[str, str] = field(default_factory=dict)  # value -> where it came from

    def watch(self, values: Iterable[str], origin: str) -> None:
        for value in values:
            if value and len(value) >= MIN_SECRET_LEN:
                self.secrets.setdefault(value, origin)


REGISTRY = Registry()


def watch(values: Iterable[str], origin: str) -> None:
    """Register secrets the suite hands to the system: none may show up in a log."""
    REGISTRY.watch(values, origin)


def logs_under(root: Path) -> list[Path]:
    """The log files under `root`, leaving out pytest's `tmp_path` trees: those hold what the
    tests wrote themselves (the scan's own unit test plants leaks there)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in LOG_SUFFIXES
        and p.is_file()
        and not any(part.startswith("pytest-of-") for part in p.relative_to(root).parts)
    )


def scan(root: Path, secrets: dict[str, str]) -> list[Leak]:
    """Every registered secret and every credential shape found in the logs under `root`."""
    leaks: list[Leak] = []
    for path in logs_under(root):
        with path.open(errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                leaks.extend(
                    Leak(path, number, f"secret from {origin}")
                    for value, origin in secrets.items()
                    if value in line
                )
                leaks.extend(
                    Leak(path, number, shape) for shape, rx in SHAPES.items() if rx.search(line)
                )
    return leaks


def verdict(root: Path, secrets: dict[str, str], *, shown: int = 20) -> list[str]:
    """What the end of a run reports: nothing when no log under `root` holds a registered
    secret or a credential shape, else a headline and one line per leak (the first `shown`),
    naming the file, the line and what it is, never the value."""
    leaks = scan(root, secrets)
    if not leaks:
        return []
    lines = [f"{len(leaks)} secret(s) in the logs of the run ({len(logs_under(root))} logs)"]
    lines += [f"{leak.path}:{leak.line}: {leak.what}" for leak in leaks[:shown]]
    return lines


def session_dir() -> Path:
    """Where this run's temporary files and logs go."""
    return Path(os.environ["INCIDENT_SYNC_TEST_TMP"])


def start_session() -> Path:
    """Send every temporary file of this process and its children under one directory, and
    this process's own log records into a file there."""
    root = Path(tempfile.mkdtemp(prefix="incident-sync-tests-"))
    os.environ["INCIDENT_SYNC_TEST_TMP"] = str(root)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)
    handler = logging.FileHandler(root / "pytest-process.log", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    # The services log at INFO by default; so does the code the tests drive in this process.
    root_logger.setLevel(min(root_logger.level, logging.INFO))
    return root
