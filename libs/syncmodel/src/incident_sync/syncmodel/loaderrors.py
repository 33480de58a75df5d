"""Readable load errors for the config files: every problem named by its key path.

pydantic's own message quotes the input, which may be a secret (a misspelt `pasword` key is
still a password): these messages name where and what, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


class ConfigError(ValueError):
    """A config file that cannot be used as it is; the message names each key at fault."""


def key_path(loc: tuple[int | str, ...]) -> str:
    """`("integrations", 0, "features")` -> `integrations[0].features`."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself is wrong"
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(exc: ValidationError, hints: Mapping[str, str] | None = None) -> str:
    """One line per problem: `<key path>: <what is wrong>`. An unknown key is called so, with
    the hint `hints` has for its name (what to use instead, or why it means nothing here)."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        where = key_path(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            name = str(err["loc"][-1]) if err["loc"] else ""
            hint = (hints or {}).get(name)
            lines.append(f"{where}: unknown key" + (f": {hint}" if hint else ""))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)
