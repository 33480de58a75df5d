"""`im.toml`: where `im` connects, as named contexts (`im config` shows and switches them).

The file is `IM_CONFIG`, default ~/.config/incident-sync/im.toml:

    current_context = "prod"

    [contexts.prod]
    api_url = "https://incident-sync-control.example.com"
    token = "..."
    tenant = "acme"
    ingress_url = "https://incident-sync.example.com"   # for `im sync`
    sync_token = "..."                                   # the ingress's SYNC_API_TOKEN

    [contexts.local]
    api_url = "http://127.0.0.1:8090"

The context in use: `--context NAME`, else `IM_CONTEXT`, else `current_context`. Without one,
the file's top-level keys (the older flat form, the same keys) are read instead; with one,
they are not (a top-level token is never sent to a context's address). A stored token goes
only to the address stored beside it: where `--api-url`/`IM_API_URL` (or the ingress's)
names another, the stored token is left out.

Every value: flag > environment > context (or the flat keys) > default.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomlkit
import tomlkit.exceptions

KEYS: Final = ("api_url", "token", "tenant", "ingress_url", "sync_token")
SECRET_KEYS: Final = frozenset({"token", "sync_token"})


class ConfigError(Exception):
    """The file cannot be read or does not have the right shape; the message says why (and
    never quotes a value)."""


def config_path() -> Path:
    default = Path.home() / ".config" / "incident-sync" / "im.toml"
    return Path(os.environ.get("IM_CONFIG") or default).expanduser()


@dataclass(frozen=True)
class Context:
    """One set of connection values (a named context, or the file's flat keys: `name` None)."""

    name: str | None
    values: Mapping[str, str]

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def _check_table(where: str, table: Any) -> dict[str, str]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string")
        out[key] = str(value)  # a plain str, not tomlkit's item
    return out


@dataclass
class ConfigFile:
    """The parsed file (`doc` keeps its comments and layout for writing it back)."""

    path: Path
    doc: tomlkit.TOMLDocument

    @classmethod
    def load(cls, path: Path | None = None) -> ConfigFile:
        path = path or config_path()
        if not path.exists():
            return cls(path, tomlkit.document())
        try:
            doc = tomlkit.parse(path.read_text())
        except (OSError, tomlkit.exceptions.ParseError) as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc}") from None
        config = cls(path, doc)
        config.check()
        return config

    def check(self) -> None:
        """Refuse what `im` would not read (a misspelt key would otherwise be ignored)."""
        for key, value in self.doc.items():
            if key == "contexts":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{self.path}: contexts must be a table of tables")
                for name, table in value.items():
                    _check_table(f"{self.path}: contexts.{name}", table)
            elif key == "current_context":
                if not isinstance(value, str):
                    raise ConfigError(f"{self.path}: current_context must be a string")
            elif key not in KEYS:
                known = ", ".join(("current_context", "contexts", *KEYS))
                raise ConfigError(f"{self.path}: unknown key {key!r} (known: {known})")
        _check_table(f"{self.path}", {k: v for k, v in self.doc.items() if k in KEYS})

    @property
    def contexts(self) -> dict[str, Context]:
        tables = self.doc.get("contexts", {})
        return {
            str(name): Context(str(name), _check_table(f"contexts.{name}", table))
            for name, table in tables.items()
        }

    @property
    def current(self) -> str | None:
        value = self.doc.get("current_context")
        return str(value) if value is not None else None

    @property
    def flat(self) -> Context:
        return Context(None, {k: str(v) for k, v in self.doc.items() if k in KEYS})

    def select(self, name: str | None) -> Context:
        """The named context (`--context`/`IM_CONTEXT`), else the current one, else the flat
        keys. An unknown name is a ConfigError."""
        chosen = name or self.current
        if chosen is None:
            return self.flat
        contexts = self.contexts
        if chosen not in contexts:
            known = ", ".join(sorted(contexts)) or "none"
            source = "current_context" if name is None else "context"
            raise ConfigError(f"{source} {chosen!r} is not in {self.path} (contexts: {known})")
        return contexts[chosen]

    def use(self, name: str) -> None:
        """Make `name` the current context and write the file (mode 0600: it holds tokens)."""
        if name not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise ConfigError(f"no context {name!r} in {self.path} (contexts: {known})")
        self.doc["current_context"] = name
        self.write()

    def set_context(self, name: str, values: Mapping[str, str | None]) -> None:
        """Create or change the context `name`: each given key set, None removes it. Not
        written yet (`write`)."""
        if not name or any(c in name for c in ' ."[]'):
            raise ConfigError(f"a context name is a word without spaces, dots or quotes: {name!r}")
        for key in values:
            if key not in KEYS:
                raise ConfigError(f"unknown key {key!r} (known: {', '.join(KEYS)})")
        if "contexts" not in self.doc:
            self.doc["contexts"] = tomlkit.table(is_super_table=True)
        contexts = self.doc["contexts"]
        assert isinstance(contexts, dict)  # checked at load
        if name not in contexts:
            contexts[name] = tomlkit.table()
        table = contexts[name]
        for key, value in values.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value

    def delete_context(self, name: str) -> None:
        contexts = self.doc.get("contexts", {})
        if name not in contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise ConfigError(f"no context {name!r} in {self.path} (contexts: {known})")
        del contexts[name]
        if self.current == name:
            del self.doc["current_context"]

    def write(self) -> None:
        """Atomically, owner-only: a temporary file of mode 0600 beside it, then renamed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".im-", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600
                out.write(tomlkit.dumps(self.doc))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
