"""The whole system on one machine: broker, redis-server, the sandbox tools, the control API,
the ingress, the outbound worker and the reconciler, each a child process on a free port.

incident.io and ServiceNow always run; Jira, PagerDuty, Datadog and Slack are opt-in
(`tools=("jira", "pagerduty", ...)`) so the tests that do not need them keep their start-up
time. The generated sides file seeds the control store (the control service imports it on its
first start); the ingress and the worker read their sides from the store
(`CONFIG_SOURCE=control`) and follow changes made through the API. `config_source="file"`
makes them read the file.
"""

from __future__ import annotations

import base64
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from incident_sync.controlstore.crypto import generate_key
from incident_sync.devstack import processes
from incident_sync.devstack.children import (
    SN_HUMAN,
    SN_HUMAN_PASSWORD,
    SN_PASSWORD,
    SN_USER,
    services,
)
from incident_sync.devstack.optional import (
    DD_API_KEY,
    DD_APP_KEY,
    JIRA_TOKEN,
    JIRA_USER,
    OPTIONAL,
    PD_TOKEN,
    PD_USER,
    SLACK_CHANNEL,
    SLACK_TOKEN,
)
from incident_sync.devstack.processes import Child
from incident_sync.devstack.rediscluster import RedisCluster
from incident_sync.runtime.settings import Settings

__all__ = [
    "JIRA_TOKEN",
    "JIRA_USER",
    "PD_USER",
    "SLACK_CHANNEL",
    "SN_HUMAN",
    "SN_HUMAN_PASSWORD",
    "SN_PASSWORD",
    "SN_USER",
    "Stack",
]

OPTIONAL_TOOLS = tuple(OPTIONAL)
INTEGRATION_IDS = {name: tool.integration_id for name, tool in OPTIONAL.items()}


@dataclass
class Stack:
    """Start with `start()`, stop with `stop()` (also a context manager)."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="incident-sync-")))
    features: dict[str, bool] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Optional sandbox tools to run and integrate: "jira", "pagerduty".
    tools: tuple[str, ...] = ()
    # Extra settings merged into an integration's config by id (e.g. {"prod-jira":
    # {"ownership": {}}}).
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Top-level keys added to the sides file (e.g. the seed guide's `features` block).
    sides: dict[str, Any] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    config_source: str = "control"
    # Outbound worker processes (one consumer group): "outbound", "outbound-2", ...
    workers: int = 1
    # Redis Cluster (three masters) instead of one redis-server: every service then gets a
    # `redis+cluster://` REDIS_URL.
    redis_cluster: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.tools) - set(OPTIONAL_TOOLS)
        if unknown:
            raise ValueError(f"unknown optional tools {sorted(unknown)}; known: {OPTIONAL_TOOLS}")
        names = (
            "broker",
            "redis",
            "incidentio",
            "servicenow",
            "control",
            "ingress",
            *self.worker_names,
            "reconciler",
            *self.tools,
        )
        self.ports = {n: processes.free_port() for n in names}
        self.cluster = (
            RedisCluster(
                masters=3,
                workdir=self.workdir / "redis-cluster",
                ports=[self.ports["redis"], processes.free_port(), processes.free_port()],
            )
            if self.redis_cluster
            else None
        )
        self.jira_secret: str = secrets.token_urlsafe(24)
        self.pagerduty_secret: str = secrets.token_urlsafe(24)
        self.datadog_secret: str = secrets.token_urlsafe(24)
        self.api_key = secrets.token_urlsafe(24)
        self.incidentio_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.servicenow_secret = secrets.token_urlsafe(24)
        self.sync_token = secrets.token_urlsafe(24)  # guards the ingress's /sync routes
        self.encryption_key = generate_key()  # seals the secrets in the control store
        self.admin_token = secrets.token_urlsafe(24)  # the control API's bootstrap admin

    def secret_values(self) -> list[str]:
        """Every credential this stack hands out: none may ever appear in a log."""
        return [
            self.jira_secret,
            self.pagerduty_secret,
            self.datadog_secret,
            self.api_key,
            self.incidentio_secret,
            self.servicenow_secret,
            self.sync_token,
            self.encryption_key,
            self.admin_token,
            SN_PASSWORD,
            SN_HUMAN_PASSWORD,
            JIRA_TOKEN,
            PD_TOKEN,
            DD_API_KEY,
            DD_APP_KEY,
            SLACK_TOKEN,
        ]

    @property
    def worker_names(self) -> list[str]:
        return ["outbound", *(f"outbound-{n}" for n in range(2, self.workers + 1))]

    # -- addresses ---------------------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    @property
    def redis_url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    @property
    def config_path(self) -> Path:
        return self.workdir / "sync.json"

    def service_env(self, name: str) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "KAFKA_IDEMPOTENCE": "false",  # the embedded broker has no InitProducerId
            "KAFKA_SESSION_TIMEOUT_S": "6",
            "REDIS_URL": self.redis_url,
            "INCIDENT_SYNC_CONFIG": str(self.config_path),
            "MAPPINGS_DIR": str(self.workdir),  # the generated field-mappings.json
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.ports[name]),
            "OUTBOUND_DATADIR": str(self.workdir / f"{name}-data"),
            "SYNC_API_TOKEN": self.sync_token,
            "CONFIG_SOURCE": self.config_source,
            "SYNC_TENANT": "default",
            "CONFIG_RELOAD_S": "0.5",
            "CONTROL_ENCRYPTION_KEYS": self.encryption_key,
            **self.extra_env,
        }

    def control_env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.ports["control"]),
            "CONTROL_ENCRYPTION_KEYS": self.encryption_key,
            "CONTROL_BOOTSTRAP_TOKEN": self.admin_token,
            "CONTROL_SEED_FILE": str(self.config_path),
            "MAPPINGS_DIR": str(self.workdir),
            # conflict resolutions are published to the pipeline
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "KAFKA_IDEMPOTENCE": "false",
            # the message limit every producer of the pipeline shares
            **{k: v for k, v in self.extra_env.items() if k == "KAFKA_MAX_MESSAGE_BYTES"},
        }

    # -- configuration -----------------------------------------------------------------------
    def write_config(self) -> None:
        mapping = {
            "features": {
                "reverse_sync": True,
                "sync_status": False,
                "sync_severity": False,
                **self.features,
            }
        }
        (self.workdir / "field-mappings.json").write_bytes(orjson.dumps(mapping))
        config: dict[str, Any] = {
            "platform": {
                "id": "incidentio",
                "type": "incidentio",
                "base_url": self.url("incidentio"),
                "api_key": self.api_key,
                "webhook_secret": self.incidentio_secret,
            },
            "integrations": [
                {
                    "id": "prod-snow",
                    "type": "servicenow",
                    "base_url": self.url("servicenow"),
                    "username": SN_USER,
                    "password": SN_PASSWORD,
                    "actor": SN_USER,
                    "webhook_secret": self.servicenow_secret,
                    "direction": "bidirectional",
                    "mapping_file": "field-mappings.json",
                    # The seed guide's slice: names, summaries and work notes travel both
                    # ways, so no ownership rules (`overrides` can set the type's defaults).
                    "ownership": {},
                }
            ],
        }
        config["integrations"].extend(self._optional_integrations())
        for integration in config["integrations"]:
            integration.update(self.overrides.get(integration["id"], {}))
        config.update(self.sides)
        self.config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))

    def _optional_integrations(self) -> list[dict[str, Any]]:
        return [
            {"id": tool.integration_id, **tool.integration(self)}
            for name, tool in OPTIONAL.items()
            if name in self.tools
        ]

    # -- life cycle --------------------------------------------------------------------------
    def _add(self, child: Child) -> Child:
        child.log_path = self.workdir / f"{child.name}.log"
        self.children.append(child)
        return child.start()

    def _add_all(self, children: list[Child], timeout_s: float) -> None:
        for child in children:
            child.log_path = self.workdir / f"{child.name}.log"
        self.children.extend(children)
        processes.start_all(children, timeout_s)

    def start(self, ready_timeout_s: float = 90.0) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        try:
            self._add(processes.broker(self.ports["broker"]))
            if self.cluster is not None:
                self.cluster.start()
                self.children.extend(self.cluster.children)
            else:
                self._add(processes.redis(self.ports["redis"], str(self.workdir)))
            # Seeds the store from the sides file before it listens.
            self._add(
                processes.python_module(
                    "control",
                    "incident_sync.control",
                    port=self.ports["control"],
                    env=self.control_env(),
                )
            )
            self._add_all(services(self), ready_timeout_s)
            self.wait_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def partitions(self) -> int:
        """The partition count of each pipeline topic (KAFKA_TOPIC_PARTITIONS)."""
        default = Settings.model_fields["kafka_topic_partitions"].default
        return int(self.extra_env.get("KAFKA_TOPIC_PARTITIONS", default))

    def held_partitions(self, client: httpx.Client) -> dict[str, dict[str, int]] | None:
        """Per worker, the partitions of each pipeline topic it holds (its /ready body); None
        while one is not ready."""
        held: dict[str, dict[str, int]] = {}
        for name in self.worker_names:
            try:
                answer = client.get(f"{self.url(name)}/ready")
            except httpx.HTTPError:
                return None
            if answer.status_code != 200:
                return None
            held[name] = answer.json()["topics"]
        return held

    def wait_ready(self, timeout_s: float) -> None:
        """Ready = the ingress reaches broker and Redis, every worker has joined the consumer
        group, and together they hold every partition of the pipeline's topics (a worker
        beyond the partition count holds none and is ready all the same)."""
        deadline = time.monotonic() + timeout_s
        pending = {"ingress": f"{self.url('ingress')}/ready"}
        pending.update({name: f"{self.url(name)}/ready" for name in self.worker_names})
        pending["reconciler"] = f"{self.url('reconciler')}/ready"
        with httpx.Client(timeout=2.0) as client:
            while True:
                for name, url in list(pending.items()):
                    try:
                        if client.get(url).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if not pending and self._all_partitions_held(client):
                    return
                for child in self.children:
                    if not child.running:
                        raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
                if time.monotonic() > deadline:
                    logs = "\n".join(f"--- {c.name}\n{c.log_tail(15)}" for c in self.children)
                    waiting = sorted(pending) or ["the workers to hold every partition"]
                    raise TimeoutError(f"not ready after {timeout_s}s: {waiting}\n{logs}")
                time.sleep(0.25)

    def _all_partitions_held(self, client: httpx.Client) -> bool:
        held = self.held_partitions(client)
        if held is None:
            return False
        totals: dict[str, int] = {}
        for topics in held.values():
            for topic, n in topics.items():
                totals[topic] = totals.get(topic, 0) + n
        return bool(totals) and all(n == self.partitions for n in totals.values())

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def stop(self) -> None:
        """Stop the services together, then Redis and the broker (which they need to stop
        cleanly: a worker leaves its consumer group, a producer flushes)."""
        infra = [c for c in self.children if c.name == "broker" or c.name.startswith("redis")]
        processes.stop_all([c for c in reversed(self.children) if all(c is not i for i in infra)])
        processes.stop_all(list(reversed(infra)))
        self.children.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
