"""`helm test`: the chart's test Pods ask each component's /ready through its Service, in the
app image (python with urllib), hardened like the workloads, and the NetworkPolicies let them
through. Their script runs here against a real HTTP server."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.chart import (
    ALL_ON,
    RELEASE,
    Doc,
    component,
    container,
    kubernetes_validate,
    of_kind,
    render,
)

COMPONENTS = ("ingress", "outbound", "control", "reconciler")


def hook_pods(docs: list[Doc]) -> dict[str, Doc]:
    """The `helm test` Pods by the component they check."""
    pods = [
        p for p in of_kind(docs, "Pod") if p["metadata"]["annotations"]["helm.sh/hook"] == "test"
    ]
    return {p["metadata"]["labels"]["incident-sync.io/tests"]: p for p in pods}


def env_of(pod: Doc) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(_as_deployment(pod))["env"]}


def _as_deployment(pod: Doc) -> Doc:
    return {"spec": {"template": {"spec": pod["spec"]}}}


def test_a_test_pod_per_component_each_hardened_in_the_app_image(tmp_path: Path) -> None:
    docs = render(*ALL_ON)
    pods = hook_pods(docs)
    assert set(pods) == set(COMPONENTS)
    image = container(component(docs, "Deployment", "ingress"))["image"]
    for name, pod in pods.items():
        spec = pod["spec"]
        c = container(_as_deployment(pod))
        assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == (
            "before-hook-creation"
        )
        assert spec["restartPolicy"] == "Never"
        assert c["image"] == image, name  # no other image to pull or trust
        assert c["command"][:2] == ["python", "-c"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    out = kubernetes_validate(list(pods.values()), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def _service_port_to_pods(docs: list[Doc], host: str, port: int) -> tuple[Doc, int]:
    """The Deployment a Service name and port reach, and the container port they land on."""
    (service,) = [s for s in of_kind(docs, "Service") if s["metadata"]["name"] == host]
    selector = service["spec"]["selector"]
    (deployment,) = [
        d
        for d in of_kind(docs, "Deployment")
        if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    if service["spec"].get("clusterIP") == "None":  # headless: the name resolves to the pods
        assert port in ports.values(), (host, port)
        return deployment, port
    (sp,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    return deployment, ports[sp["targetPort"]]


@pytest.mark.parametrize(
    "sets", [ALL_ON, ("control.service.port=9000", "ingress.service.port=8081")]
)
def test_each_pod_asks_ready_of_its_own_component(sets: tuple[str, ...]) -> None:
    docs = render(*sets)
    for name, pod in hook_pods(docs).items():
        url = urlsplit(env_of(pod)["READY_URL"])
        assert url.path == "/ready"
        assert url.port is not None and url.hostname is not None
        deployment, _ = _service_port_to_pods(docs, url.hostname, url.port)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == name


def test_no_test_pod_for_a_component_switched_off_or_scaled_to_zero_nor_when_disabled() -> None:
    assert set(hook_pods(render("reconciler.enabled=false", "control.enabled=false"))) == {
        "ingress",
        "outbound",
    }
    # Scaled to zero: nothing to ask.
    assert "outbound" not in hook_pods(render("outbound.keda.minReplicas=0"))
    assert "outbound" in hook_pods(render("outbound.keda.enabled=false"))
    assert "outbound" not in hook_pods(render("outbound.keda.enabled=false", "outbound.replicas=0"))
    assert "control" not in hook_pods(render("control.replicas=0"))
    docs = render("helmTest.enabled=false")
    assert not of_kind(docs, "Pod")
    assert f"{RELEASE}-incident-sync-helm-test" not in {
        p["metadata"]["name"] for p in of_kind(docs, "NetworkPolicy")
    }


# -- NetworkPolicies: what they let through ----------------------------------------------------
def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return dict(selector.get("matchLabels", {})).items() <= labels.items()


def _port_matches(
    rule_ports: list[dict[str, Any]] | None, port: int, names: dict[str, int]
) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        wanted = p.get("port")
        if wanted is None or wanted == port or names.get(str(wanted)) == port:
            return True
    return False


def _peer_matches(peers: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    """A peer of this namespace (no namespaceSelector) with these labels; an ipBlock matches
    any pod address."""
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            return True
        same_namespace = "podSelector" in peer and "namespaceSelector" not in peer
        if same_namespace and _selects(peer["podSelector"], labels):
            return True
    return False


def allowed(docs: list[Doc], source: dict[str, str], dest: Doc, port: int) -> bool:
    """Whether the NetworkPolicies let a pod labelled `source` reach `dest` (a Deployment)'s
    pods on `port`: egress from the source, and ingress to the destination."""
    dest_labels = dest["spec"]["template"]["metadata"]["labels"]
    names = {p["name"]: p["containerPort"] for p in container(dest)["ports"]}
    policies = [p["spec"] for p in of_kind(docs, "NetworkPolicy")]

    def direction(
        kind: str, pod: dict[str, str], peer: dict[str, str], ports: dict[str, int]
    ) -> bool:
        applying = [
            p for p in policies if kind in p["policyTypes"] and _selects(p["podSelector"], pod)
        ]
        if not applying:
            return True  # no policy isolates the pod in this direction
        key, peers = ("egress", "to") if kind == "Egress" else ("ingress", "from")
        return any(
            _peer_matches(rule.get(peers), peer) and _port_matches(rule.get("ports"), port, ports)
            for p in applying
            for rule in p.get(key, [])
        )

    return direction("Egress", source, dest_labels, names) and direction(
        "Ingress", dest_labels, source, names
    )


@pytest.mark.parametrize("sets", [ALL_ON, ()], ids=["everything-on", "defaults"])
def test_the_network_policies_let_each_test_pod_reach_its_component(sets: tuple[str, ...]) -> None:
    docs = render(*sets)
    for pod in hook_pods(docs).values():
        url = urlsplit(env_of(pod)["READY_URL"])
        assert url.hostname is not None and url.port is not None
        deployment, port = _service_port_to_pods(docs, url.hostname, url.port)
        labels = pod["metadata"]["labels"]
        assert allowed(docs, labels, deployment, port), pod["metadata"]["name"]
        # ... and the DNS lookup of the Service's name.
        assert any(
            53 in {p["port"] for p in rule.get("ports", [])}
            for np in of_kind(docs, "NetworkPolicy")
            if "Egress" in np["spec"]["policyTypes"] and _selects(np["spec"]["podSelector"], labels)
            for rule in np["spec"]["egress"]
        )


def test_the_policy_check_refuses_what_the_policies_do_not_allow() -> None:
    """The check above is not vacuous: a pod of another name is refused by the ingress's
    policy, and without the egress rule for the test pods they cannot leave."""
    docs = render()
    ingress = component(docs, "Deployment", "ingress")
    stranger = {"app.kubernetes.io/name": "other", "app.kubernetes.io/component": "x"}
    assert not allowed(docs, stranger, ingress, 8080)
    (pod,) = [p for n, p in hook_pods(docs).items() if n == "ingress"]
    labels = pod["metadata"]["labels"]
    no_test_egress = [
        d for d in docs if d["metadata"]["name"] != f"{RELEASE}-incident-sync-helm-test"
    ]
    assert not allowed(no_test_egress, labels, ingress, 8080)


# -- the script itself, against a real server --------------------------------------------------
class _Ready(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = b'{"status": "ready"}' if self.path == "/ready" else b"{}"
        self.send_response(self.status if self.path == "/ready" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    handler = type("Handler", (_Ready,), {"status": 200})
    srv = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _run(pod: Doc, url: str, timeout_s: str) -> subprocess.CompletedProcess[str]:
    c = container(_as_deployment(pod))
    env = {**os.environ, **env_of(pod), "READY_URL": url, "READY_TIMEOUT_S": timeout_s}
    return subprocess.run(  # noqa: S603 - the chart's own script
        [sys.executable, *c["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_script_passes_on_200_and_fails_on_a_503(server: http.server.HTTPServer) -> None:
    (pod, *_) = hook_pods(render()).values()
    url = f"http://127.0.0.1:{server.server_address[1]}/ready"
    done = _run(pod, url, "5")
    assert done.returncode == 0, done.stderr
    assert "200" in done.stdout
    server.RequestHandlerClass.status = 503  # type: ignore[attr-defined]
    done = _run(pod, url, "0")
    assert done.returncode == 1
    assert "not ready" in done.stderr and "503" in done.stderr
