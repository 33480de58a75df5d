"""Where a running service gets its sides: the JSON file, or the control store in Redis.

`ControlSource` reads one tenant's platform and integrations in one snapshot (a MULTI of the
version, the platform and the integrations hash), opens their secrets, and afterwards
`poll()` answers a new `SyncConfig` only when the tenant's version has moved. Services poll
every `CONFIG_RELOAD_S` and swap the config between events. A side that cannot be used (a
tool type without a connector yet, a secret sealed with a key not in the keyring) is left
out with an error in the log, and so is one whose `mapping_file` is not a mapping file in
this service's mappings directory (`MAPPINGS_DIR`); a broken platform record keeps the previous
config.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Collection, Mapping

import redis
import redis.asyncio as aioredis

from incident_sync.controlstore.crypto import Keyring, KeyringError
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.runtime.configfiles import MappingDirectory, load_config
from incident_sync.runtime.settings import Settings, default_mappings_dir
from incident_sync.syncmodel.config import SyncConfig, resolve_mapping
from incident_sync.syncmodel.mapping import MappingError
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect, connect_sync

log = logging.getLogger("controlstore")


class ConfigUnavailable(RuntimeError):
    """The store has no usable platform connection for the tenant (yet)."""


class ConfigSource(abc.ABC):
    @abc.abstractmethod
    def load(self) -> SyncConfig:
        """The first config, blocking until one is available."""

    @abc.abstractmethod
    async def poll(self) -> SyncConfig | None:
        """A new config if it changed since the last one handed out, else None."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass


class FileSource(ConfigSource):
    """The JSON file: read once (restart to change it)."""

    def __init__(self, path: str, mappings_dir: str | None = None) -> None:
        self.path = path
        self.mappings_dir = mappings_dir or default_mappings_dir()

    def load(self) -> SyncConfig:
        return load_config(self.path, mappings_dir=self.mappings_dir)

    async def poll(self) -> SyncConfig | None:
        return None


def build_config(
    tenant: str,
    platform_raw: bytes | None,
    integrations_raw: Mapping[bytes, bytes],
    keyring: Keyring,
    tool_types: Collection[str] | None = None,
    mappings_dir: str | None = None,
) -> SyncConfig:
    directory = mappings_dir or default_mappings_dir()
    read = MappingDirectory(directory).read  # each file once for this version of the config
    if not platform_raw:
        raise ConfigUnavailable(f"no platform connection is configured for tenant {tenant!r}")
    try:
        platform = resolve_mapping(to_config(StoredSide.decode(platform_raw), keyring), read)
    except (KeyringError, ValueError) as exc:  # MappingError is a ValueError
        raise ConfigUnavailable(f"the platform connection cannot be used: {exc}") from None
    integrations = []
    for raw in integrations_raw.values():
        stored = StoredSide.decode(raw)
        try:
            config = resolve_mapping(to_config(stored, keyring), read)
        except MappingError as exc:
            log.error(
                "integration left out: its mapping file cannot be used",
                extra={
                    "tenant": tenant,
                    "integration": stored.name,
                    "reason": str(exc),
                    "mappings_dir": directory,
                },
            )
            continue
        except (KeyringError, ValueError) as exc:
            log.error(
                "integration left out: cannot open it",
                extra={"tenant": tenant, "integration": stored.name, "reason": str(exc)},
            )
            continue
        if tool_types is not None and config.type not in tool_types:
            log.warning(
                "integration left out: no connector for its tool type yet",
                extra={"tenant": tenant, "integration": config.id, "type": config.type},
            )
            continue
        integrations.append(config)
    integrations.sort(key=lambda i: i.id)
    return SyncConfig(platform=platform, integrations=tuple(integrations))


class ControlSource(ConfigSource):
    def __init__(
        self,
        redis_url: str,
        tenant: str,
        keyring: Keyring,
        *,
        tool_types: Collection[str] | None = None,
        wait_log_every_s: float = 5.0,
        mappings_dir: str | None = None,
    ) -> None:
        self.mappings_dir = mappings_dir
        self.redis_url = redis_url
        self.tenant = tenant
        self.keyring = keyring
        self.tool_types = tool_types
        self.wait_log_every_s = wait_log_every_s
        self.version: int | None = None
        self._aredis: aioredis.Redis | None = None

    def _keys(self) -> tuple[str, str, str]:
        t = self.tenant
        return keys.version(t), keys.platform(t), keys.integrations(t)

    def _build(
        self, version: bytes | None, platform: bytes | None, integ: dict[bytes, bytes]
    ) -> SyncConfig:
        config = build_config(
            self.tenant, platform, integ, self.keyring, self.tool_types, self.mappings_dir
        )
        self.version = int(version or 0)
        log.info(
            "config loaded from the control store",
            extra={
                "tenant": self.tenant,
                "version": self.version,
                "integrations": [i.id for i in config.integrations],
            },
        )
        return config

    def load(self) -> SyncConfig:
        client = connect_sync(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
        last_log = 0.0
        try:
            while True:
                try:
                    version_key, platform_key, integ_key = self._keys()
                    pipe = client.pipeline(transaction=True)
                    pipe.get(version_key)
                    pipe.get(platform_key)
                    pipe.hgetall(integ_key)
                    version, platform, integ = pipe.execute()
                    return self._build(version, platform, integ)
                except (ConfigUnavailable, redis.RedisError) as exc:
                    if time.monotonic() - last_log > self.wait_log_every_s:
                        log.warning(
                            "waiting for the control store",
                            extra={"tenant": self.tenant, "reason": str(exc)},
                        )
                        last_log = time.monotonic()
                    time.sleep(0.2)
        finally:
            client.close()

    async def poll(self) -> SyncConfig | None:
        if self._aredis is None:
            self._aredis = connect(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
        version_key, platform_key, integ_key = self._keys()
        current = int(await self._aredis.get(version_key) or 0)
        if current == self.version:
            return None
        async with self._aredis.pipeline(transaction=True) as pipe:
            pipe.get(version_key)
            pipe.get(platform_key)
            pipe.hgetall(integ_key)
            version, platform, integ = await pipe.execute()
        return self._build(version, platform, integ)

    async def aclose(self) -> None:
        if self._aredis is not None:
            await self._aredis.aclose()


def config_source(settings: Settings, tool_types: Collection[str] | None = None) -> ConfigSource:
    """The source `CONFIG_SOURCE` names."""
    if settings.config_source == "file":
        return FileSource(settings.config_path, settings.mappings_dir)
    if settings.control_encryption_keys is None:
        raise ConfigUnavailable("CONFIG_SOURCE=control needs CONTROL_ENCRYPTION_KEYS")
    keyring = Keyring.from_text(settings.control_encryption_keys.get_secret_value())
    return ControlSource(
        settings.redis_url,
        settings.sync_tenant,
        keyring,
        tool_types=tool_types,
        mappings_dir=settings.mappings_dir,
    )
