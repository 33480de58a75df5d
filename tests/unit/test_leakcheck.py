"""The log scan finds a registered secret and credential shapes, and passes clean logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.leakcheck import scan, verdict


def test_scan_finds_registered_secrets_and_credential_shapes(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "ingress.log").write_text(
        '{"msg": "ok"}\n'
        '{"msg": "config", "api_key": "k3y-value-123456"}\n'
        '{"msg": "sent", "headers": {"Authorization": "Bearer abcdefghijklmnopqrstu"}}\n'
    )
    (tmp_path / "trace.jsonl").write_text('{"attr": "xoxb-123456789-abcdef"}\n')
    (tmp_path / "sync.json").write_text('{"api_key": "k3y-value-123456"}')  # not a log

    leaks = scan(tmp_path, {"k3y-value-123456": "a stack"})

    found = {(p.path.name, p.line, p.what) for p in leaks}
    assert found == {
        ("ingress.log", 2, "secret from a stack"),
        ("ingress.log", 3, "bearer token"),
        ("trace.jsonl", 1, "Slack bot token"),
    }
    assert all("k3y-value" not in leak.what for leak in leaks)  # reports never echo a secret


def test_scan_passes_clean_logs(tmp_path: Path) -> None:
    (tmp_path / "control.log").write_text(
        '{"msg": "integration updated", "secrets": {"api_key": "set"}}\n'
        '{"msg": "Bearer tokens are hashed"}\n'
    )
    assert scan(tmp_path, {"k3y-value-123456": "a stack"}) == []


def test_verdict_names_each_leak_and_passes_clean_logs(tmp_path: Path) -> None:
    (tmp_path / "ingress.log").write_text('{"msg": "config", "api_key": "k3y-value-123456"}\n')
    problems = verdict(tmp_path, {"k3y-value-123456": "a stack"})
    assert problems[0] == "1 secret(s) in the logs of the run (1 logs)"
    assert problems[1:] == [f"{tmp_path / 'ingress.log'}:1: secret from a stack"]
    assert verdict(tmp_path, {"other-secret-value": "a stack"}) == []


LEAKY = """
from tests import leakcheck

def test_logs_a_secret():
    leakcheck.watch(["s3cret-value-for-the-hook"], "the test")
    (leakcheck.session_dir() / "service.log").write_text("token s3cret-value-for-the-hook")

def test_logs_nothing():
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist workers"])
def test_a_leak_fails_the_run_from_the_session_hook(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """The suite's own hooks in a run of passing tests, one of which logs a secret it
    registered: the run fails, after the tests, and says where the secret is; under xdist the
    worker that ran it tells the controller."""
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(
        "from tests.conftest import pytest_configure, pytest_sessionfinish, pytest_testnodedown"
    )
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*2 passed*"])
    result.stdout.fnmatch_lines(
        ["*secrets in the logs of the run*", "*service.log:1: secret from the test"]
    )
