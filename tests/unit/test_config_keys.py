"""Config keys nobody reads are refused at load, naming the key; the seed guide's `features`
block works in the sides file (and per integration) and means what the guide says."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from incident_sync.connectors.registry import REGISTRY
from incident_sync.runtime.configfiles import load_config as load_from
from incident_sync.runtime.configfiles import load_mapping
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.loaderrors import ConfigError
from incident_sync.syncmodel.mapping import MappingError

REPO = Path(__file__).resolve().parents[2]
SECRET = "hunter2-not-in-any-message"


def sides(tmp_path: Path, edit: Any = None, mapping: dict[str, Any] | None = None) -> Path:
    """The example sides file (and its mapping file) in tmp_path, changed by `edit`."""
    config = orjson.loads((REPO / "config" / "sync.example.json").read_bytes())
    if edit is not None:
        edit(config)
    (tmp_path / "field-mappings.json").write_bytes(
        orjson.dumps(mapping)
        if mapping is not None
        else (REPO / "config" / "field-mappings.json").read_bytes()
    )
    path = tmp_path / "sync.json"
    path.write_bytes(orjson.dumps(config))
    return path


def load_config(path: Path) -> SyncConfig:
    """The sides file, its mapping files beside it (the mappings directory)."""
    return load_from(path, mappings_dir=path.parent)


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert SECRET not in message
    return message


def test_the_shipped_files_load(tmp_path: Path) -> None:
    config = load_config(sides(tmp_path))
    assert [i.id for i in config.integrations] == ["prod-snow"]


def test_the_guides_webhook_blocks_are_refused_with_where_the_setting_lives(
    tmp_path: Path,
) -> None:
    def guide(c: dict[str, Any]) -> None:
        c["servicenow_webhook"] = {"verify_signature": False, "secret": SECRET}
        c["logging"] = {"level": "debug"}

    message = refusal(sides(tmp_path, guide))
    assert "servicenow_webhook: unknown key" in message
    assert "webhook_secret" in message and "always verified" in message
    assert "logging: unknown key" in message and "LOG_LEVEL" in message


def test_an_unknown_key_of_a_side_is_named_by_its_path(tmp_path: Path) -> None:
    def typo(c: dict[str, Any]) -> None:
        c["integrations"][0]["pasword"] = SECRET
        c["integrations"][0]["verify_signature"] = False
        c["platform"]["webhook"] = {"secret": SECRET}

    message = refusal(sides(tmp_path, typo))
    assert "integrations[0].pasword: unknown key" in message
    assert "integrations[0].verify_signature: unknown key" in message
    assert "platform.webhook: unknown key" in message


def test_an_option_the_connector_does_not_read_is_refused(tmp_path: Path) -> None:
    def typo(c: dict[str, Any]) -> None:
        c["integrations"][0]["options"]["urgncy"] = "2"

    message = refusal(sides(tmp_path, typo))
    assert "integrations[0].options: not an option of servicenow: urgncy" in message


def test_unknown_keys_of_the_mapping_file_are_named(tmp_path: Path) -> None:
    bad = {"features": {"sync_priority": True}, "field_mapping": {}}
    (tmp_path / "m.json").write_bytes(orjson.dumps(bad))
    with pytest.raises(MappingError) as caught:
        load_mapping(tmp_path / "m.json")
    assert "features.sync_priority: unknown key" in str(caught.value)
    assert "field_mapping: unknown key" in str(caught.value)


def test_an_unknown_flag_in_the_sides_files_features_is_named(tmp_path: Path) -> None:
    def flag(c: dict[str, Any]) -> None:
        c["features"] = {"reverse_sync": True, "sync_priority": True}

    assert "features.sync_priority: unknown key" in refusal(sides(tmp_path, flag))


def test_the_sides_files_features_override_the_mapping_files_flag_by_flag(
    tmp_path: Path,
) -> None:
    mapping = {"features": {"reverse_sync": True, "sync_status": False, "sync_severity": True}}

    def guide(c: dict[str, Any]) -> None:
        c["features"] = {"sync_status": True}

    snow = load_config(sides(tmp_path, guide, mapping)).integrations[0].mapping()
    # sync_status from the sides file; sync_severity kept from the mapping file
    assert snow.to_canonical({"incident_state": "6", "priority": "1"}) == {
        "status": "closed",
        "severity": "critical",
    }


def test_reverse_sync_off_takes_nothing_in(tmp_path: Path) -> None:
    def guide(c: dict[str, Any]) -> None:
        c["features"] = {"reverse_sync": False, "sync_status": True, "sync_severity": False}

    snow = load_config(sides(tmp_path, guide)).integrations[0].mapping()
    assert snow.inbound_fields() == frozenset()
    assert snow.to_canonical({"short_description": "t", "incident_state": "6"}) == {}
    assert snow.outbound_fields() == {"title", "description", "comment"}  # still written to


def test_an_integrations_own_features_win_over_the_top_level_block(tmp_path: Path) -> None:
    def guide(c: dict[str, Any]) -> None:
        c["features"] = {"sync_status": True}
        c["integrations"][0]["features"] = {"sync_status": False}

    snow = load_config(sides(tmp_path, guide)).integrations[0].mapping()
    assert "status" not in snow.inbound_fields()


def test_features_for_a_tool_that_maps_in_code_are_refused() -> None:
    with pytest.raises(ValueError, match="jira maps its fields in code"):
        IntegrationConfig.model_validate(
            {"id": "j", "type": "jira", "base_url": "https://x", "features": {"sync_status": True}}
        )
    platform = {"id": "incidentio", "type": "incidentio", "base_url": "https://api.incident.io"}
    jira = {"id": "j", "type": "jira", "base_url": "https://x"}
    with pytest.raises(ValueError, match="no integration maps its fields"):
        SyncConfig.model_validate(
            {"platform": platform, "integrations": [jira], "features": {"sync_status": True}}
        )


def test_the_option_table_covers_what_each_connector_reads() -> None:
    """Every option name a connector reads is declared for its tool (and nothing else is)."""
    read = re.compile(r"options\.([a-z_]+)")
    for tool, spec in REGISTRY.specs.items():
        package = Path(sys.modules[spec.connector.__module__].__file__ or "").parent
        source = "".join(p.read_text() for p in package.glob("*.py"))
        model = spec.options
        names = {n for n in read.findall(source) if not callable(getattr(model, n, None))}
        if tool == "servicenow":  # its create defaults are read in a loop
            names |= {"urgency", "impact", "category", "assignment_group"}
        if tool == "jira":  # "close_transition" if closing else "reopen_transition"
            names.add("reopen_transition")
        assert names == set(model.model_fields), tool


def test_the_declare_rule_loads_and_its_unknown_keys_are_named(tmp_path: Path) -> None:
    rule = {"when": {"all": [{"field": "priority", "equals": "P1"}]}}

    def declare(c: dict[str, Any]) -> None:
        c["integrations"][0]["declare"] = rule

    config = load_config(sides(tmp_path, declare))
    assert config.integrations[0].declare is not None
    assert config.integrations[0].declare.matches({"priority": "P1"})
    assert IntegrationConfig.model_fields["declare"].default is None  # off by default

    def typo(c: dict[str, Any]) -> None:
        c["integrations"][0]["declare"] = {**rule, "whenever": {}}
        c["integrations"][0]["declare"]["when"]["all"][0]["equal"] = "P1"

    message = refusal(sides(tmp_path, typo))
    assert "integrations[0].declare.whenever: unknown key" in message
    assert "integrations[0].declare.when.all[0].equal: unknown key" in message
