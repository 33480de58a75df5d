"""Reading the shapes of vendors' JSON defensively: a webhook body is input, and a field that
should hold an array may hold anything. What is not the expected shape reads as absent, so a
parser refuses or ignores it instead of failing with a TypeError (a 500 at the ingress)."""

from __future__ import annotations

from typing import Any


def as_list(value: object) -> list[Any]:
    """A JSON array as it is; null, a scalar or an object as an empty list."""
    return value if isinstance(value, list) else []
