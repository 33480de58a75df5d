"""The control service as a child process on a real redis-server, for the control tests."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from incident_sync.control.settings import default_policy_file
from incident_sync.controlstore.crypto import generate_key
from incident_sync.devstack import processes
from tests import leakcheck

REPO = Path(__file__).resolve().parents[3]


@dataclass
class ControlService:
    redis_url: str
    workdir: Path
    kafka_bootstrap: str | None = None  # conflict resolutions are published there
    keys: str = field(default_factory=generate_key, repr=False)
    admin: str = field(default_factory=lambda: "boot-" + secrets.token_urlsafe(16), repr=False)
    child: processes.Child | None = None
    # Every secret a test hands to the service: none may ever show up in a response or a log.
    secrets: list[str] = field(default_factory=list, repr=False)
    env: dict[str, str] = field(default_factory=dict)  # more of the service's environment

    @property
    def policy(self) -> Path:
        return self.workdir / "control.rego"

    @property
    def mappings(self) -> Path:
        """Its MAPPINGS_DIR, holding the repository's field-mappings.json."""
        return self.workdir / "mappings"

    @property
    def log(self) -> Path:
        return self.workdir / "control.log"

    def start(self) -> ControlService:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.policy.exists():
            shutil.copy(default_policy_file(), self.policy)
        self.mappings.mkdir(exist_ok=True)
        shutil.copy(REPO / "config" / "field-mappings.json", self.mappings)
        self.port = processes.free_port()
        self.child = processes.python_module(
            "control",
            "incident_sync.control",
            port=self.port,
            env={
                "REDIS_URL": self.redis_url,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(self.port),
                "CONTROL_ENCRYPTION_KEYS": self.keys,
                "CONTROL_BOOTSTRAP_TOKEN": self.admin,
                "CONTROL_POLICY_FILE": str(self.policy),
                "MAPPINGS_DIR": str(self.mappings),
                "CONTROL_TEST_TIMEOUT_S": "3",
                "LOG_LEVEL": "DEBUG",
                **(
                    {"KAFKA_BOOTSTRAP": self.kafka_bootstrap, "KAFKA_IDEMPOTENCE": "false"}
                    if self.kafka_bootstrap
                    else {}
                ),
                **self.env,
            },
        )
        self.child.log_path = self.log
        self.child.start()
        return self

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def secret(self, prefix: str = "s3cr3t") -> str:
        value = f"{prefix}-{secrets.token_hex(12)}"
        self.secrets.append(value)
        leakcheck.watch([value], "a control test")
        return value

    def token(self, role: str, *, name: str | None = None, **scope: Any) -> str:
        with self.client(self.admin) as c:
            r = c.post(
                "/api/v1/tokens",
                json={"name": name or role, "role": role, "scope": scope},
            )
            r.raise_for_status()
            token = str(r.json()["token"])
            leakcheck.watch([token], "a control API token")
            return token

    def leaked(self) -> list[str]:
        """Secrets that appear in the service's log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [s for s in self.secrets if s in text]


def start_control(
    redis_port: int,
    db: int,
    *,
    keys: str | None = None,
    kafka_bootstrap: str | None = None,
    env: dict[str, str] | None = None,
) -> ControlService:
    return start_control_at(
        f"redis://127.0.0.1:{redis_port}/{db}",
        keys=keys,
        kafka_bootstrap=kafka_bootstrap,
        env=env,
    )


def start_control_at(
    redis_url: str,
    *,
    keys: str | None = None,
    kafka_bootstrap: str | None = None,
    env: dict[str, str] | None = None,
) -> ControlService:
    """A control service on `redis_url` (one server, or `redis+cluster://`)."""
    workdir = Path(tempfile.mkdtemp(prefix="incident-sync-control-"))
    service = ControlService(
        redis_url=redis_url,
        workdir=workdir,
        kafka_bootstrap=kafka_bootstrap,
        env=env or {},
    )
    if keys is not None:
        service.keys = keys
    leakcheck.watch([service.admin, *service.keys.split(",")], "a control service")
    return service.start()


def on_server_and_cluster(request: pytest.FixtureRequest) -> ControlService:
    """For a module's own `control` fixture (params server, cluster): the session's service
    on one redis-server, or the one on a Redis Cluster. (Asked by name: a fixture that took
    the session's `control` as an argument would pass its param on to it, and pytest would
    start that service anew, with new keys, on the same store.)"""
    name = "control_server" if request.param == "server" else "control_cluster"
    service: ControlService = request.getfixturevalue(name)
    return service
