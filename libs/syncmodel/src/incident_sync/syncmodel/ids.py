"""The one rule for ids a sender hands us: record ids, comment ids, delivery ids.

Every such id becomes part of Redis keys, Kafka keys and the tools' URL paths
(`/api/<table>/<id>`), so it must be short and must not carry path separators, whitespace or
control characters: at most 128 characters, a letter or digit first, then letters, digits and
`. _ : ~ -`. Every tool's own ids fit (32-hex record ids, numeric issue and comment ids, short
alphanumeric ids, ULIDs, UUIDs, `msg_...` delivery ids, `sha256:<hex>` body digests). The
webhook parsers, the ingress's manual-sync routes and the control API's manual sync all check
with this module.
"""

from __future__ import annotations

import re
from typing import Final

MAX_LENGTH: Final = 128
# Also the OpenAPI `pattern` of the control API's record ids: anchored, ECMA-compatible.
PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$"
_COMPILED: Final = re.compile(PATTERN)
RULE: Final = (
    f"at most {MAX_LENGTH} characters: a letter or digit, then letters, digits and . _ : ~ -"
)


def is_valid(value: object) -> bool:
    """True when `value` is a string that follows the rule."""
    # fullmatch: `$` alone would let a trailing newline through.
    return isinstance(value, str) and _COMPILED.fullmatch(value) is not None


def problem(value: object) -> str | None:
    """Why `value` is not a valid id (None when it is): the words a refusal puts after the
    field's name. Never quotes the value (it may be 200 KB, or hold control characters)."""
    if not isinstance(value, str):
        return "expected a string id"
    if not value:
        return "empty id"
    if len(value) > MAX_LENGTH:
        return f"id longer than {MAX_LENGTH} characters"
    if _COMPILED.fullmatch(value) is None:
        return f"not a valid id ({RULE})"
    return None
