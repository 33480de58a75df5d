"""A side's `mapping_file` is a name inside the configured mappings directory, never a path:
the name rule, the file's content check, and the sides file (file config source) read by it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from incident_sync.controlstore.crypto import Keyring, generate_key
from incident_sync.controlstore.records import seal
from incident_sync.controlstore.source import FileSource, build_config
from incident_sync.runtime.configfiles import MappingDirectory, load_config
from incident_sync.syncmodel.config import IntegrationConfig, resolve_mapping
from incident_sync.syncmodel.loaderrors import ConfigError
from incident_sync.syncmodel.mapping import MappingError

REPO = Path(__file__).resolve().parents[2]
NOT_NAMES = (
    "../field-mappings.json",
    "/etc/passwd",
    "sub/field-mappings.json",
    "sub\\field-mappings.json",
    "..",
    ".hidden.json",
    "a..json",
    "field-mappings.json/",
    "",
)


def snow(**extra: object) -> dict[str, object]:
    return {"id": "prod-snow", "type": "servicenow", "base_url": "https://x", **extra}


@pytest.mark.parametrize("name", NOT_NAMES)
def test_a_path_is_not_a_mapping_file_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="mapping_file"):
        IntegrationConfig.model_validate(snow(mapping_file=name))
    with pytest.raises(MappingError, match="not a file name"):
        MappingDirectory(tmp_path).read(name)


def test_a_name_is_read_inside_the_directory_only(tmp_path: Path) -> None:
    inside = tmp_path / "mappings"
    inside.mkdir()
    (tmp_path / "outside.json").write_bytes(b"{}")
    (inside / "field-mappings.json").write_bytes((REPO / "config/field-mappings.json").read_bytes())
    assert MappingDirectory(inside).read("field-mappings.json").field_mappings["incident.name"] == (
        "short_description"
    )
    with pytest.raises(MappingError, match=r"no mapping file 'outside\.json'") as missing:
        MappingDirectory(inside).read("outside.json")
    assert str(tmp_path) not in str(missing.value)  # the reason names no server path


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not json", "is not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"platform": {"id": "x"}}', "unknown sections"),  # e.g. the sides file itself
        (b'{"features": {"reverse_sync": "maybe"}}', "is not a mapping file"),
        (b'{"field_mappings": {"incident.nope": "x"}}', r"field_mappings\.incident\.nope: Input"),
    ],
)
def test_a_file_that_is_not_a_mapping_file_is_refused(
    tmp_path: Path, content: bytes, why: str
) -> None:
    (tmp_path / "bad.json").write_bytes(content)
    with pytest.raises(MappingError, match=why):
        MappingDirectory(tmp_path).read("bad.json")


def test_mapping_reads_no_file_and_an_inline_map_wins(tmp_path: Path) -> None:
    side = IntegrationConfig.model_validate(snow(mapping_file="field-mappings.json"))
    with pytest.raises(MappingError, match="was not read"):
        side.mapping()
    inline = IntegrationConfig.model_validate(
        snow(mapping_file="absent.json", field_map={"features": {"sync_status": True}})
    )
    assert (
        resolve_mapping(inline, MappingDirectory(tmp_path).read) is inline
    )  # the file is not looked at
    assert "status" in inline.mapping().inbound_fields()


def sides_file(tmp_path: Path, mapping_file: str) -> Path:
    path = tmp_path / "sides" / "sync.json"
    path.parent.mkdir()
    path.write_bytes(
        orjson.dumps(
            {
                "platform": {"id": "incidentio", "type": "incidentio", "base_url": "https://x"},
                "integrations": [snow(mapping_file=mapping_file)],
            }
        )
    )
    return path


def test_the_sides_file_names_files_in_the_mappings_directory(tmp_path: Path) -> None:
    path = sides_file(tmp_path, "status-on.json")
    # Beside the sides file is not where it is looked for (it used to be).
    (path.parent / "status-on.json").write_bytes(b'{"features": {"sync_status": true}}')
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    with pytest.raises(MappingError, match=r"no mapping file 'status-on\.json'"):
        load_config(path, mappings_dir=mappings)
    (mappings / "status-on.json").write_bytes(b'{"features": {"sync_status": true}}')
    config = FileSource(str(path), str(mappings)).load()
    (side,) = config.integrations
    assert side.mapping_file == "status-on.json"
    assert "status" in side.mapping().inbound_fields()


def test_the_sides_file_may_not_name_a_path(tmp_path: Path) -> None:
    path = sides_file(tmp_path, str(REPO / "config" / "field-mappings.json"))
    with pytest.raises(ConfigError, match="mapping_file"):
        load_config(path, mappings_dir=REPO / "config")


def test_the_example_sides_file_loads_from_the_config_directory() -> None:
    config = load_config(REPO / "config" / "sync.example.json", mappings_dir=REPO / "config")
    (side,) = config.integrations
    assert side.field_map is not None
    assert side.mapping().outbound_fields() == {"title", "description", "comment"}


def test_the_control_store_source_reads_names_in_its_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The pipeline's services resolve a stored name in their own MAPPINGS_DIR; an integration
    whose file is not there is left out with an error, the others stay."""
    keyring = Keyring.from_text(generate_key())
    platform = IntegrationConfig(id="incidentio", type="incidentio", base_url="https://x")
    sides = {
        name: IntegrationConfig.model_validate({**snow(mapping_file=file), "id": name})
        for name, file in (("snow-ok", "status-on.json"), ("snow-gone", "gone.json"))
    }
    raw = {n.encode(): seal(s, keyring, kind="integration").encode() for n, s in sides.items()}
    (tmp_path / "status-on.json").write_bytes(b'{"features": {"sync_status": true}}')
    config = build_config(
        "t",
        seal(platform, keyring, kind="platform").encode(),
        raw,
        keyring,
        mappings_dir=str(tmp_path),
    )
    (side,) = config.integrations
    assert side.id == "snow-ok"
    assert "status" in side.mapping().inbound_fields()
    assert any(
        r.levelname == "ERROR" and getattr(r, "integration", None) == "snow-gone"
        for r in caplog.records
    )
