"""The configuration files a service reads: the sides file (`INCIDENT_SYNC_CONFIG`) and the
mapping files of `MAPPINGS_DIR`. The rules for what they may hold are the domain's
(`syncmodel.config.parse_config`, `syncmodel.mapping.parse_mapping_file`); this module does
the reading, the `${VAR}` replacement from the environment, and remembers each mapping file
it parsed until the file changes, so building connectors reads no file again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson

from incident_sync.syncmodel.config import SyncConfig, parse_config
from incident_sync.syncmodel.loaderrors import ConfigError
from incident_sync.syncmodel.mapping import (
    FieldMapping,
    MappingConfig,
    MappingError,
    check_mapping_file_name,
    default_mapping,
    parse_mapping_config,
    parse_mapping_file,
)

_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def expand_env(value: object) -> object:
    """`${VAR}` in every string value replaced by that environment variable (empty when
    unset), so secrets can come from a Kubernetes Secret."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


class MappingDirectory:
    """The mapping files of one directory, by bare name. A file is parsed once and again
    only when its size or modification time changes; `read` is the `MappingReader` that
    `syncmodel.config.resolve_mapping` takes."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._parsed: dict[str, tuple[tuple[int, int], MappingConfig]] = {}

    def read(self, name: str) -> MappingConfig:
        """The mapping file `name`; MappingError, naming neither the directory nor the
        file's content, unless it is a bare file name of a readable mapping file."""
        check_mapping_file_name(name)
        path = self.directory / name
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if (known := self._parsed.get(name)) is not None and known[0] == stamp:
                return known[1]
            data = path.read_bytes()
        except FileNotFoundError:
            raise MappingError(f"no mapping file {name!r} in the mappings directory") from None
        except OSError as exc:
            raise MappingError(f"mapping file {name!r} cannot be read: {exc.strerror}") from None
        config = parse_mapping_file(name, data)
        self._parsed[name] = (stamp, config)
        return config

    def names(self) -> list[str]:
        """The names `read` accepts now (the control API's document lists them)."""
        try:
            entries = sorted(p.name for p in self.directory.iterdir())
        except OSError:
            return []
        names = []
        for name in entries:
            try:
                self.read(name)
            except MappingError:
                continue
            names.append(name)
        return names


def load_config(path: str | Path, *, mappings_dir: str | Path) -> SyncConfig:
    """Read the sides file; each `mapping_file` names a file inside `mappings_dir`. Raises
    ConfigError naming every key at fault (unknown keys included), never quoting a value."""
    path = Path(path)
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise ConfigError(f"{path}: not JSON") from None
    try:
        read = MappingDirectory(mappings_dir).read
        return parse_config(expand_env(raw), source=str(path), read=read)
    except MappingError as exc:
        raise MappingError(f"{exc} (mappings directory {mappings_dir})") from None


def load_mapping(path: str | Path | None) -> FieldMapping:
    """The field map in the mapping file at `path`, merged over the defaults; None gives the
    defaults."""
    if path is None:
        return default_mapping()
    return FieldMapping(parse_mapping_config(str(path), Path(path).read_bytes()))
