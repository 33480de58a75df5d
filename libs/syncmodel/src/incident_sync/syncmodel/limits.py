"""Field limits: a value longer than the target tool stores is cut, visibly, before it is sent.

Pure. Each connector knows its tool's maximums (a table beside it, or what the tool's own
schema says, e.g. a table's column dictionary) as canonical field -> characters; this module does
the cutting, the same way for every tool:
- a value within its limit is sent as it is;
- a longer one keeps as much of its start as fits with `MARKER` appended, so a reader of the
  record sees that it was cut (and where the whole value lives: the platform keeps it);
- cutting is idempotent: a cut value fits, so cutting it again changes nothing. The pipeline
  cuts before it records what it writes, so the tool's echo of a cut value is recognised as
  the echo of our write (and never taken back over the longer original).
Lengths are counted in characters (code points), as the tools document them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

MARKER: Final = "… [truncated]"
SHORT_MARKER: Final = "…"  # for limits too small to spend on the long marker


def marker_for(limit: int) -> str:
    """The marker a value cut to `limit` characters ends with."""
    return MARKER if limit >= 4 * len(MARKER) else SHORT_MARKER


def cut(value: str | None, limit: int | None, *, measure: Callable[[str], int] = len) -> str | None:
    """`value` if it fits in `limit`, else its start plus the marker, fitting.

    `measure`: how the tool counts a value's length when that is not its plain length (e.g.
    after the escaping a renderer applies); it must grow with the text.
    """
    if value is None or limit is None or measure(value) <= limit:
        return value
    if limit <= 0:
        return ""
    marker = marker_for(limit)
    keep = max(0, limit - len(marker))
    while True:
        # Trailing whitespace before the marker would be trimmed by the tool (and by
        # `echo.normalize`): drop it now, so the value sent is the value stored.
        candidate = value[:keep].rstrip() + marker
        if measure(candidate) <= limit or keep == 0:
            return candidate if measure(candidate) <= limit else marker[:limit]
        keep -= max(1, measure(candidate) - limit)


def fit(fields: Mapping[str, str | None], limits: Mapping[str, int]) -> dict[str, str | None]:
    """`fields` with every value cut to its field's limit (fields without one unchanged)."""
    return {name: cut(value, limits.get(name)) for name, value in fields.items()}
