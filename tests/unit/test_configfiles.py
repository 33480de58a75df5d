"""Reading the configuration files: a mapping file is parsed once until it changes, so
building connectors for every request or every config version reads no file again."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from incident_sync.runtime.configfiles import MappingDirectory, expand_env
from incident_sync.syncmodel.mapping import MappingError


def write(path: Path, sync_status: bool) -> None:
    path.write_bytes(orjson.dumps({"features": {"sync_status": sync_status}}))


def test_a_mapping_file_is_parsed_once_until_it_changes(tmp_path: Path) -> None:
    write(tmp_path / "m.json", True)
    files = MappingDirectory(tmp_path)
    first = files.read("m.json")
    assert files.read("m.json") is first  # the parsed file, not a second reading
    write(tmp_path / "m.json", False)
    stat = (tmp_path / "m.json").stat()
    os.utime(tmp_path / "m.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = files.read("m.json")
    assert changed is not first
    assert changed.features.sync_status is False
    (tmp_path / "m.json").unlink()
    with pytest.raises(MappingError, match=r"no mapping file 'm\.json'"):
        files.read("m.json")


def test_names_lists_the_readable_mapping_files(tmp_path: Path) -> None:
    write(tmp_path / "a.json", True)
    (tmp_path / "b.json").write_bytes(b"not json")
    (tmp_path / ".hidden.json").write_bytes(b"{}")
    assert MappingDirectory(tmp_path).names() == ["a.json"]
    assert MappingDirectory(tmp_path / "absent").names() == []


def test_expand_env_replaces_variables_in_every_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOW_PASSWORD", "from-a-secret")
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    raw = {"a": ["x-${SNOW_PASSWORD}", 3], "b": {"c": "${UNSET_VARIABLE}"}}
    assert expand_env(raw) == {"a": ["x-from-a-secret", 3], "b": {"c": ""}}
