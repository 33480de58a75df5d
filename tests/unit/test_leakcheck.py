"""The log scan finds a registered secret and credential shapes, and passes clean logs."""

from __future__ import annotations

from pathlib import Path

from tests.leakcheck import scan


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
