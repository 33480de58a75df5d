"""The Helm chart (deploy/helm/incident-sync): lint, render, validate what it renders against
the Kubernetes schemas (kubernetes-validate --strict) and the CRDs' (KEDA, prometheus-operator,
Strimzi), and check the wiring the services depend on."""

from __future__ import annotations

import copy
import json
import subprocess
import tarfile
from pathlib import Path

import jsonschema
import pytest

from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import topics
from tests.deploy.chart import (
    ALL_ON,
    CHART,
    NODE_MODULES,
    RELEASE,
    ROOT,
    Doc,
    RenderError,
    component,
    container,
    faust_app_id,
    helm,
    kubernetes_validate,
    named,
    of_kind,
    render,
)

CORE_GROUPS = ("v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1")
CUSTOM = ("keda.sh/v1alpha1", "monitoring.coreos.com/v1", "kafka.strimzi.io/v1beta2")


# -- helm lint / template ----------------------------------------------------------------------
@pytest.mark.parametrize("sets", [(), ALL_ON], ids=["defaults", "everything-on"])
def test_helm_lint_strict(sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for s in sets:
        args += ["--set", s]
    out = helm(*args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 chart(s) failed" in out.stdout


def test_helm_template_renders_every_kind() -> None:
    kinds = {d["kind"] for d in render(*ALL_ON)}
    assert kinds == {
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "ScaledObject",
        "KafkaTopic",
        "ServiceMonitor",
        "PrometheusRule",
        "Pod",  # the `helm test` hooks
    }


# -- kubernetes-validate --strict --------------------------------------------------------------
@pytest.mark.parametrize("sets", [(), ALL_ON], ids=["defaults", "everything-on"])
def test_core_resources_pass_kubernetes_validate_strict(
    sets: tuple[str, ...], tmp_path: Path
) -> None:
    docs = render(*sets)
    core = [d for d in docs if d["apiVersion"] in CORE_GROUPS]
    assert {d["apiVersion"] for d in docs} <= set(CORE_GROUPS) | set(CUSTOM)
    out = kubernetes_validate(core, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_kubernetes_validate_strict_refuses_an_unknown_field(tmp_path: Path) -> None:
    deployment = copy.deepcopy(component(render(), "Deployment", "ingress"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # typo
    out = kubernetes_validate([deployment], tmp_path)
    assert out.returncode != 0
    assert "readinesProbe" in out.stdout + out.stderr


# -- custom resources against their schemas ----------------------------------------------------
def node_validate(resources: list[Doc]) -> list[str | None]:
    script = Path(__file__).with_name("crd_validate.mjs")
    if not NODE_MODULES.exists():
        raise AssertionError(f"{NODE_MODULES} is missing: run scripts/bootstrap.sh")
    out = subprocess.run(  # noqa: S603
        ["node", str(script), str(NODE_MODULES)],  # noqa: S607 - node from PATH
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(out.stdout))


def test_keda_and_prometheus_operator_resources_validate() -> None:
    docs = render(*ALL_ON)
    resources = [
        d for d in docs if d["apiVersion"] in ("keda.sh/v1alpha1", "monitoring.coreos.com/v1")
    ]
    assert sorted(d["kind"] for d in resources) == [
        "PrometheusRule",
        "ScaledObject",
        "ServiceMonitor",
    ]
    assert node_validate(resources) == [None, None, None]


def test_the_crd_validators_catch_wrong_types() -> None:
    docs = render()
    scaled = copy.deepcopy(of_kind(docs, "ScaledObject")[0])
    scaled["spec"]["maxReplicaCount"] = "six"
    monitor = copy.deepcopy(of_kind(docs, "ServiceMonitor")[0])
    monitor["spec"]["endpoints"] = "http"
    rule = copy.deepcopy(of_kind(docs, "PrometheusRule")[0])
    rule["spec"]["groups"][0]["rules"][0]["for"] = 15
    errors = node_validate([scaled, monitor, rule])
    assert all(errors), errors
    assert "maxReplicaCount" in str(errors[0])


KAFKA_TOPIC_SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "kafkatopic-v1beta2.schema.json").read_text()
)


def test_kafka_topics_validate_against_the_strimzi_shape() -> None:
    for topic in of_kind(render(), "KafkaTopic"):
        jsonschema.validate(topic, KAFKA_TOPIC_SCHEMA)
    bad = copy.deepcopy(of_kind(render(), "KafkaTopic")[0])
    bad["spec"]["partitions"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, KAFKA_TOPIC_SCHEMA)


def test_a_kafka_topic_for_every_topic_with_its_settings() -> None:
    docs = render(
        "kafkaTopics.topics.dlq.retentionMs=1000", "kafkaTopics.topics.inbound.partitions=12"
    )
    by_name = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    expected = set(topics.ALL) | {f"{faust_app_id()}-__assignor-__leader"}
    assert set(by_name) == expected
    assert by_name["sync.dlq"]["spec"]["config"]["retention.ms"] == "1000"
    assert by_name["sync.inbound"]["spec"]["partitions"] == 12
    for name, topic in by_name.items():
        spec = topic["spec"]
        assert spec["config"]["cleanup.policy"] == "delete", name
        assert int(spec["config"]["retention.ms"]) > 0, name
        assert spec["replicas"] == 3, name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "incident-sync"
    assert by_name["sync.outbound"]["spec"]["partitions"] == 6
    # The settings that create missing topics follow the same defaults.
    env = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
    assert env["KAFKA_TOPIC_PARTITIONS"] == "6"
    assert env["KAFKA_REPLICATION_FACTOR"] == "3"


def test_one_message_limit_for_the_topics_and_the_services() -> None:
    """KAFKA_MAX_MESSAGE_BYTES (producers, consumers, the ingress's 413) and every topic's
    max.message.bytes come from one value; a topic's own config cannot set another."""
    default = render()
    env = named(default, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
    assert env["KAFKA_MAX_MESSAGE_BYTES"] == str(Settings().kafka_max_message_bytes)
    for sets in [
        (),
        ("kafka.maxMessageBytes=4194304", r"kafkaTopics.topics.dlq.config.max\.message\.bytes=7"),
    ]:
        docs = render(*sets)
        env = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
        limits = {t["spec"]["config"]["max.message.bytes"] for t in of_kind(docs, "KafkaTopic")}
        assert limits == {env["KAFKA_MAX_MESSAGE_BYTES"]}, sets
        assert Settings(KAFKA_MAX_MESSAGE_BYTES=env["KAFKA_MAX_MESSAGE_BYTES"])
    assert env["KAFKA_MAX_MESSAGE_BYTES"] == "4194304"


# -- workloads ---------------------------------------------------------------------------------
COMMANDS = {
    "ingress": ["python", "-m", "incident_sync.ingress"],
    "outbound": ["python", "-m", "incident_sync.outbound", "worker"],
    "control": ["python", "-m", "incident_sync.control"],
    "reconciler": ["python", "-m", "incident_sync.reconciler"],
}


def test_deployments_run_the_services_hardened_and_probed() -> None:
    docs = render(*ALL_ON)
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in of_kind(docs, "Deployment")
    }
    assert set(deployments) == set(COMMANDS)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert c["command"] == COMMANDS[name]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert set(c["resources"]) == {"requests", "limits"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert c["startupProbe"]["httpGet"]["path"] == "/health"
        (port,) = c["ports"]
        assert port["name"] == "http"
        env = {e["name"]: e for e in c["env"]}
        assert env["HTTP_PORT"]["value"] == str(port["containerPort"])
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert env["CONTROL_ENCRYPTION_KEYS"]["valueFrom"]["secretKeyRef"] == {
            "name": "incident-sync",
            "key": "CONTROL_ENCRYPTION_KEYS",
            "optional": False,
        }
    # faust's datadir is writable: OUTBOUND_DATADIR is an emptyDir mount.
    config = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
    outbound = deployments["outbound"]
    mounts = {m["mountPath"]: m["name"] for m in container(outbound)["volumeMounts"]}
    volumes = {v["name"]: v for v in outbound["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts[config["OUTBOUND_DATADIR"]]]


def test_the_reconciler_runs_by_default_and_can_be_switched_off() -> None:
    reconciler = component(render(), "Deployment", "reconciler")
    assert reconciler["spec"]["replicas"] == 2  # leases make replicas safe
    env = {e["name"]: e for e in container(reconciler)["env"]}
    assert env["RECONCILE_LEASE_S"]["value"] == "15"
    assert env["RECONCILE_INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    docs = render("reconciler.enabled=false")
    assert not [
        d
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "reconciler"
    ]
    assert "incident-sync.reconcile" not in json.dumps(of_kind(docs, "PrometheusRule"))


def _settings_names() -> set[str]:
    from incident_sync.control.settings import ControlSettings
    from incident_sync.reconciler.settings import ReconcilerSettings

    names: set[str] = set()
    for model in (Settings, ControlSettings, ReconcilerSettings):
        names |= {f.alias for f in model.model_fields.values() if f.alias}
    return names


def test_every_environment_variable_is_one_the_services_read() -> None:
    docs = render(*ALL_ON, "redis.existingSecret=redis")
    known = _settings_names() | {"OUTBOUND_DATADIR", "PYTHONUNBUFFERED"}
    config = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
    names = set(config)
    for deployment in of_kind(docs, "Deployment"):
        names |= {e["name"] for e in container(deployment)["env"]}
    unknown = {n for n in names - known if not n.startswith("OTEL_")}
    assert not unknown, f"set but read by no service: {sorted(unknown)}"
    assert config["KAFKA_IDEMPOTENCE"] == "true"
    assert config["CONFIG_SOURCE"] == "control"
    assert "REDIS_URL" not in config  # from the Secret instead
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert render()[0] is not None
    assert (
        named(render(), "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]["OTEL_TRACES_EXPORTER"]
        == "none"
    )


def test_secrets_are_only_referenced() -> None:
    docs = render(*ALL_ON, "toolCredentials.existingSecret=tools")
    assert not of_kind(docs, "Secret")
    ingress = container(component(docs, "Deployment", "ingress"))
    env = {e["name"]: e for e in ingress["env"]}
    assert env["SYNC_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "incident-sync"
    assert {"secretRef": {"name": "tools"}} in ingress["envFrom"]
    control = container(component(docs, "Deployment", "control"))
    token = {e["name"]: e for e in control["env"]}["CONTROL_BOOTSTRAP_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["optional"] is True


def test_file_source_needs_a_sides_file() -> None:
    with pytest.raises(RenderError, match=r"config\.sidesFile"):
        render("config.source=file")
    docs = render("config.source=file", "config.sidesFile=sides")
    files = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-files")["data"]
    assert files["sync.json"] == "sides"


# -- files: the policy and the field mappings --------------------------------------------------
def test_policy_and_field_mappings_are_the_repository_files() -> None:
    docs = render()
    policy = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-policy")["data"]["control.rego"]
    assert policy == (ROOT / "deploy" / "policy" / "control.rego").read_text()
    files = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-files")["data"]
    assert files["field-mappings.json"] == (ROOT / "config" / "field-mappings.json").read_text()
    control = component(docs, "Deployment", "control")
    env = {e["name"]: e.get("value") for e in container(control)["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container(control)["volumeMounts"]}
    assert env["CONTROL_POLICY_FILE"] == mounts["policy"] + "/control.rego"
    config = named(docs, "ConfigMap", f"{RELEASE}-incident-sync-env")["data"]
    assert Path(config["INCIDENT_SYNC_CONFIG"]).parent == Path(mounts["files"])
    assert Path(config["MAPPINGS_DIR"]) == Path(mounts["files"])  # a mapping_file's directory


def test_a_packaged_chart_carries_the_files_not_links(tmp_path: Path) -> None:
    out = helm("package", str(CHART), "--destination", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (archive,) = tmp_path.glob("incident-sync-*.tgz")
    with tarfile.open(archive) as tar:
        member = tar.getmember("incident-sync/files/control.rego")
        assert member.isfile()
        data = tar.extractfile(member)
        assert data is not None
        assert data.read() == (ROOT / "deploy" / "policy" / "control.rego").read_bytes()


def test_the_console_cookie_is_secure_unless_turned_off() -> None:
    def env(*sets: str) -> dict[str, str]:
        control = named(render(*sets), "Deployment", f"{RELEASE}-incident-sync-control")
        return {e["name"]: e.get("value") for e in container(control)["env"]}

    default = env()
    assert default["CONSOLE_SECURE_COOKIE"] == "true"
    assert default["CONSOLE_SESSION_TTL_S"] == "28800"
    plain = env("control.console.secureCookie=false", "control.console.sessionTtlSeconds=600")
    assert (plain["CONSOLE_SECURE_COOKIE"], plain["CONSOLE_SESSION_TTL_S"]) == ("false", "600")
