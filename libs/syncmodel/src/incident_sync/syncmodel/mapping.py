"""The field-mapping engine, driven by `config/field-mappings.json` (the seed's format).

Platform fields are named as in the seed (`incident.name`, `incident.summary`, ...) and
translated to canonical fields here, so the rest of the pipeline speaks one vocabulary.
Forward = platform -> external tool; reverse = external tool -> platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Final, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.loaderrors import ConfigError, describe

# The stream of updates / work notes travels as the field `comment` holding the latest entry:
# writing it appends one (a ticket's work notes, a platform's update).
COMMENT: Final = F.COMMENT.value

# Plain strings (not the enum members): they become dict keys that orjson must serialize.
PLATFORM_FIELDS: Final[Mapping[str, str]] = {
    "incident.name": F.TITLE.value,
    "incident.summary": F.DESCRIPTION.value,
    "incident.status": F.STATUS.value,
    "incident.severity": F.SEVERITY.value,
    "incident.most_recent_update_message": COMMENT,
    "incident.update_message": COMMENT,
}

# The names the file may use (checked at load, and shown in the control API's schema).
PlatformField = Literal[
    "incident.name",
    "incident.summary",
    "incident.status",
    "incident.severity",
    "incident.most_recent_update_message",
    "incident.update_message",
]
assert set(get_args(PlatformField)) == set(PLATFORM_FIELDS)
# The canonical fields a value map (`reverse_mappings`) can be for.
MappedField = Literal["title", "description", "status", "severity", "comment"]
assert set(get_args(MappedField)) == set(PLATFORM_FIELDS.values())
NativeField = Annotated[str, Field(min_length=1, max_length=100)]

# Reverse-mapped canonical fields that a feature flag must switch on.
GATED_BY_FEATURE: Final[Mapping[str, str]] = {
    F.STATUS.value: "sync_status",
    F.SEVERITY.value: "sync_severity",
}


class Features(BaseModel):
    """The seed guide's flags. `reverse_sync`: the tool's changes are taken in at all (off:
    nothing comes in from it); `sync_status`: its state (`incident_state`) sets the incident's
    status; `sync_severity`: its priority sets the incident's severity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reverse_sync: bool = True
    sync_status: bool = False
    sync_severity: bool = False


class FeatureFlags(BaseModel):
    """The same flags given in the sides file (or through the control API): each one given
    replaces the mapping file's; one left out (null) keeps it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reverse_sync: bool | None = None
    sync_status: bool | None = None
    sync_severity: bool | None = None

    def over(self, features: Features) -> Features:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return features.model_copy(update=given) if given else features


def _default_forward() -> dict[PlatformField, str]:
    return {
        "incident.name": "short_description",
        "incident.summary": "description",
        "incident.most_recent_update_message": "work_notes",
    }


def _default_reverse() -> dict[str, PlatformField]:
    return {
        "short_description": "incident.name",
        "description": "incident.summary",
        "work_notes": "incident.update_message",
        "incident_state": "incident.status",
        "priority": "incident.severity",
    }


def _default_reverse_values() -> dict[MappedField, dict[str, str]]:
    return {
        "status": {
            "1": "open",
            "2": "open",
            "3": "open",
            "6": "closed",
            "7": "closed",
            "8": "closed",
        },
        "severity": {"1": "critical", "2": "major", "3": "minor", "4": "minor", "5": "minor"},
    }


class MappingConfig(BaseModel):
    """The file's content. Missing sections keep the defaults; present ones replace them
    (value maps are merged key by key, so a file can override one code)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: Features = Features()
    field_mappings: dict[PlatformField, NativeField] = Field(default_factory=_default_forward)
    reverse_field_mappings: dict[NativeField, PlatformField] = Field(
        default_factory=_default_reverse
    )
    reverse_mappings: dict[MappedField, dict[str, str]] = Field(
        default_factory=_default_reverse_values
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_reverse_values(cls, data: object) -> object:
        """Value maps given are merged code by code over the defaults (idempotent)."""
        if isinstance(data, dict) and data.get("reverse_mappings") is not None:
            merged = {str(k): v for k, v in _default_reverse_values().items()}
            given = data["reverse_mappings"]
            if isinstance(given, dict):
                for name, values in given.items():
                    if not isinstance(values, dict) or not all(
                        isinstance(v, str) for v in values.values()
                    ):
                        return data  # not a value map: validation reports it
                    merged.setdefault(str(name), {}).update(values)
                return {**data, "reverse_mappings": merged}
        return data


class MappingError(ConfigError):
    pass


def default_mapping() -> FieldMapping:
    """The field map of a side given no mapping: the defaults."""
    return FieldMapping(MappingConfig())


def parse_mapping_config(source: str, data: bytes) -> MappingConfig:
    """A mapping file's content merged over the defaults; MappingError naming `source` and
    every key at fault."""
    raw = orjson.loads(data)
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: expected a JSON object")
    try:
        return MappingConfig.model_validate(raw)
    except ValidationError as exc:
        raise MappingError(f"{source}: {describe(exc)}") from None


# A mapping file is named, never located: a bare file name (letters, digits, `_`, `-`, dots
# only between them), so no separator, no `..`, no hidden file, no absolute path. The name is
# the whole check: the directory's own entries may be symlinks (a Kubernetes ConfigMap mounts
# each file as one into `..data/`), so resolving and comparing real paths would refuse them.
MAPPING_FILE_NAME: Final = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
_MAPPING_FILE_NAME = re.compile(MAPPING_FILE_NAME)


def check_mapping_file_name(name: str) -> None:
    """MappingError unless `name` is a bare file name (`MAPPING_FILE_NAME`)."""
    if not _MAPPING_FILE_NAME.match(name):
        raise MappingError(f"{name!r} is not a file name (no directories, no '..')")


def parse_mapping_file(name: str, data: bytes) -> MappingConfig:
    """The content `data` of the mapping file `name`, checked: a JSON object made of the
    mapping's own sections whose platform fields are known. MappingError, with a reason that
    names the file but never quotes its content. Reads nothing: the caller read the bytes
    (`incident_sync.runtime.configfiles.MappingDirectory`)."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MappingError(f"mapping file {name!r} is not JSON") from None
    if not isinstance(raw, dict):
        raise MappingError(f"mapping file {name!r}: expected a JSON object")
    unknown = sorted(set(raw) - set(MappingConfig.model_fields))
    if unknown:
        raise MappingError(f"mapping file {name!r}: unknown sections {unknown}")
    try:
        config = MappingConfig.model_validate(raw)
        FieldMapping(config)  # platform field names are checked when the map is built
    except ValidationError as exc:
        raise MappingError(
            f"mapping file {name!r} is not a mapping file: {describe(exc)}"
        ) from None
    except MappingError as exc:
        raise MappingError(f"mapping file {name!r}: {exc}") from None
    return config


def _canonical(platform_field: str) -> str:
    try:
        return PLATFORM_FIELDS[platform_field]
    except KeyError:
        known = ", ".join(sorted(PLATFORM_FIELDS))
        raise MappingError(f"unknown platform field {platform_field!r} (known: {known})") from None


class FieldMapping:
    """Translates between canonical fields and one external tool's native fields."""

    def __init__(self, config: MappingConfig) -> None:
        self.config = config
        self._forward: dict[str, str] = {}  # canonical -> native
        for platform_field, native in config.field_mappings.items():
            self._forward[_canonical(platform_field)] = native
        self._reverse: dict[str, str] = {}  # native -> canonical
        for native, platform_field in config.reverse_field_mappings.items():
            self._reverse[native] = _canonical(platform_field)
        # Forward values are the inverse of the reverse value maps: the lowest code that
        # maps to a canonical value represents it ("closed" -> "6").
        self._value_maps = {str(k): v for k, v in config.reverse_mappings.items()}
        self._forward_values: dict[str, dict[str, str]] = {}
        for canonical, codes in config.reverse_mappings.items():
            inverse: dict[str, str] = {}
            for code in sorted(codes, key=_code_order):
                inverse.setdefault(codes[code], code)
            self._forward_values[canonical] = inverse

    @property
    def features(self) -> Features:
        return self.config.features

    def forward_fields(self) -> dict[str, str]:
        """Canonical field -> the native field it is written to."""
        return dict(self._forward)

    def reverse_fields(self) -> dict[str, str]:
        """Native field -> the canonical field it is read as (taken in or not: see
        `inbound_fields`)."""
        return dict(self._reverse)

    def value_map(self, canonical: str) -> dict[str, str]:
        """The native code -> canonical value map of `canonical` (empty: none)."""
        return dict(self._value_maps.get(canonical, {}))

    def forward_value_map(self, canonical: str) -> dict[str, str]:
        """Canonical value -> the native code written for it (the lowest that stands for it)."""
        return dict(self._forward_values.get(canonical, {}))

    # -- forward: platform -> external -------------------------------------------------
    def outbound_fields(self) -> frozenset[str]:
        """Canonical fields that are written to the external tool."""
        return frozenset(self._forward)

    def to_native(self, canonical: Mapping[str, str | None]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for field, value in canonical.items():
            native = self._forward.get(field)
            if native is None:
                continue
            values = self._forward_values.get(field)
            out[native] = values.get(value, value) if values and value is not None else value
        return out

    # -- reverse: external -> platform -------------------------------------------------
    def inbound_fields(self) -> frozenset[str]:
        """Canonical fields accepted from the external tool."""
        if not self.features.reverse_sync:
            return frozenset()
        return frozenset(c for c in self._reverse.values() if self._feature_on(c))

    def to_canonical(self, native: Mapping[str, str | None]) -> dict[str, str | None]:
        """Map a record's native values; unmapped or switched-off fields are left out."""
        if not self.features.reverse_sync:
            return {}
        out: dict[str, str | None] = {}
        for field, value in native.items():
            canonical = self._reverse.get(field)
            if canonical is None or not self._feature_on(canonical):
                continue
            values = self._value_maps.get(canonical)
            if values is not None and value is not None:
                mapped = values.get(value)
                if mapped is None:
                    continue  # a code the map does not know is not guessed at
                value = mapped
            out[canonical] = value
        return out

    def canonical_of(self, native: str) -> str | None:
        """The canonical field a native field is taken in as, if it is taken in at all."""
        canonical = self._reverse.get(native)
        return canonical if canonical in self.inbound_fields() else None

    def native_inbound_fields(self) -> frozenset[str]:
        """Native fields whose changes are taken in (what a webhook payload must carry)."""
        inbound = self.inbound_fields()
        return frozenset(n for n, c in self._reverse.items() if c in inbound)

    def _feature_on(self, canonical: str) -> bool:
        flag = GATED_BY_FEATURE.get(canonical)
        return flag is None or bool(getattr(self.features, flag))


def _code_order(code: str) -> tuple[int, str]:
    return (int(code), code) if code.lstrip("-").isdigit() else (1 << 30, code)
