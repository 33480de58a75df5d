"""Both sandboxes as processes: the ready line, a real request, a clean SIGTERM exit."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.integration


def start(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    match = re.fullmatch(r"ready on (http://127\.0\.0\.1:\d+)", line)
    assert match, f"unexpected first line {line!r}"
    return proc, match.group(1)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(10)


def test_incidentio_process():
    proc, base = start(
        "incident_sync.sandbox.incidentio",
        "--api-key",
        "k",
        "--signing-secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    try:
        body = {"idempotency_key": "a", "visibility": "public", "name": "x"}
        resp = httpx.post(f"{base}/v2/incidents", json=body, headers={"Authorization": "Bearer k"})
        assert resp.status_code == 200 and resp.json()["incident"]["reference"] == "INC-1"
    finally:
        assert stop(proc) == 0


def test_servicenow_process():
    proc, base = start(
        "incident_sync.sandbox.servicenow",
        "--user",
        "incident-sync:secret",
        "--user",
        "john.smith:pw",
        "--oauth-client",
        "id:secret",
        "--webhook-secret",
        "s",
        "--rate-limit-per-hour",
        "100",
    )
    try:
        resp = httpx.post(
            f"{base}/api/now/table/incident",
            json={"short_description": "x"},
            auth=("incident-sync", "secret"),
        )
        assert resp.status_code == 201 and resp.headers["X-RateLimit-Limit"] == "100"
        form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
        assert httpx.post(f"{base}/oauth_token.do", data=form).status_code == 200
    finally:
        assert stop(proc) == 0
