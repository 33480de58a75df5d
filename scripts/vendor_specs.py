"""Regenerates tests/vendor/specs/ from the vendors' full OpenAPI documents.

    python scripts/vendor_specs.py ../shared/protocols/specs tests/vendor/specs

The tests check the requests the connectors send against the vendors' specs
(`tests/unit/connectors/openapi.py`): the operation (method + path template), its parameters
and its request body schema. The full documents are 9 MB; what the check reads is kept,
verbatim: every path and operation with its `parameters` and `requestBody`, and the
`components` those reach through `$ref`s (transitively). Responses, descriptions, examples,
tags and vendor extensions are dropped. A key named like a dropped one is kept where it is a
property name (inside `properties`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DROPPED = {
    "description",
    "example",
    "examples",
    "summary",
    "externalDocs",
    "tags",
    "security",
    "deprecated",
}
KEPT_IN_OPERATION = ("parameters", "requestBody")


def _strip(node: Any, parent: str | None = None) -> Any:
    if isinstance(node, dict):
        return {
            k: _strip(v, k)
            for k, v in node.items()
            if parent == "properties" or (k not in DROPPED and not k.startswith("x-"))
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def trim(doc: dict[str, Any]) -> dict[str, Any]:
    """What the request check reads of `doc`, nothing else."""
    paths: dict[str, Any] = {}
    for template, item in doc["paths"].items():
        kept: dict[str, Any] = {}
        for method, op in item.items():
            if method == "parameters":
                kept[method] = op
            elif isinstance(op, dict):
                kept[method] = {k: op[k] for k in KEPT_IN_OPERATION if k in op}
        paths[template] = kept
    paths = _strip(paths)
    components = doc.get("components", {})
    kept_components: dict[str, dict[str, Any]] = {}
    todo, seen = list(_refs(paths)), set()
    while todo:
        ref = todo.pop()
        if ref in seen or not ref.startswith("#/components/"):
            continue
        seen.add(ref)
        kind, name = ref.split("/")[2], ref.split("/")[3]  # a pointer may go deeper
        node = _strip(components[kind][name])
        kept_components.setdefault(kind, {})[name] = node
        todo.extend(_refs(node))
    info = {k: doc["info"][k] for k in ("title", "version") if k in doc.get("info", {})}
    return {
        "openapi": doc.get("openapi"),
        "info": info,
        "paths": paths,
        "components": kept_components,
    }


def main(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for spec in sorted(source.glob("*.json")):
        doc = json.loads(spec.read_text(encoding="utf-8"))
        trimmed = json.dumps(trim(doc), indent=None, separators=(",", ":"), sort_keys=True)
        (target / spec.name).write_text(trimmed + "\n", encoding="utf-8")
        print(f"{spec.name}: {spec.stat().st_size:,} -> {len(trimmed):,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
