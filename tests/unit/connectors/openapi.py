"""Checks recorded HTTP requests against a vendor's OpenAPI 3.0 document: the operation
exists (method + path template), its required header / query parameters are present, and the
JSON body validates against the request schema (with `$ref`s resolved inside the document)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from tests.vendorfiles import vendor_file


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` -> JSON Schema's `null` type (recursively)."""
    if isinstance(schema, list):
        return [_nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable(v) for k, v in schema.items()}
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, path: Path) -> None:
        self.doc: dict[str, Any] = orjson.loads(path.read_bytes())
        self._components = _nullable(self.doc.get("components", {}))
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template in self.doc["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template))
        # Literal paths win over templated ones (`/users/me` before `/users/{id}`).
        self._routes.sort(key=lambda r: r[1].count("{"))

    def _param(self, param: Mapping[str, Any]) -> Mapping[str, Any]:
        if "$ref" in param:
            name = param["$ref"].rsplit("/", 1)[-1]
            resolved: Mapping[str, Any] = self.doc["components"]["parameters"][name]
            return resolved
        return param

    def operation(self, method: str, path: str) -> tuple[str, Mapping[str, Any]] | None:
        for pattern, template in self._routes:
            if pattern.match(path):
                op = self.doc["paths"][template].get(method.lower())
                if isinstance(op, dict):
                    return template, op
        return None

    def problems(self, request: Request) -> list[str]:
        """Everything wrong with the request (an empty list: valid for the real API)."""
        where = f"{request.method} {request.path}"
        found = self.operation(request.method, request.path)
        if found is None:
            return [f"{where}: no such operation in the spec"]
        template, op = found
        out: list[str] = []
        headers = {k.lower() for k in request.headers}
        shared = self.doc["paths"][template].get("parameters", [])
        for raw in [*shared, *op.get("parameters", [])]:
            param = self._param(raw)
            if not param.get("required"):
                continue
            name, place = param["name"], param["in"]
            if place == "header" and name.lower() not in headers:
                out.append(f"{where}: missing required header {name}")
            elif place == "query" and name not in request.query:
                out.append(f"{where}: missing required query parameter {name}")
        body_spec = op.get("requestBody")
        if body_spec is not None:
            if "$ref" in body_spec:
                name = body_spec["$ref"].rsplit("/", 1)[-1]
                body_spec = self.doc["components"]["requestBodies"][name]
            media = body_spec.get("content", {}).get("application/json")
            if not request.body:
                if body_spec.get("required"):
                    out.append(f"{where}: the request body is required")
            elif media is not None and "schema" in media:
                out.extend(f"{where}: {e}" for e in self._validate(media["schema"], request.body))
        elif request.body:
            out.append(f"{where}: the operation takes no body")
        return out

    def _validate(self, schema: Mapping[str, Any], body: bytes) -> list[str]:
        root = {"components": self._components, "allOf": [_nullable(schema)]}
        validator = jsonschema.Draft7Validator(root)
        return [
            f"body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message[:200]}"
            for e in validator.iter_errors(orjson.loads(body))
        ]


@functools.cache
def _spec(path: Path) -> Spec:
    return Spec(path)


def spec(name: str) -> Spec:
    return _spec(vendor_file("specs", name))  # tests/vendor/specs, trimmed
