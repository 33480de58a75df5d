"""The route table: each route names its policy action, its models and its handler. Every
route is dispatched through `authorize` (no route skips the policy, public ones included:
the policy is what makes them public), and the OpenAPI document is built from the same
table and the models' JSON schemas."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pydantic_core
from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from incident_sync.control import metrics
from incident_sync.control.api.errors import ApiError, invalid
from incident_sync.control.api.models import (
    CANONICAL_FIELDS,
    FIELD_ALIASES,
    NAME_PATTERN,
    ErrorBody,
)
from incident_sync.control.auth import ANONYMOUS, Subject
from incident_sync.syncmodel import ids
from incident_sync.syncmodel.fieldmaps import CUSTOM_PATH_NAME
from incident_sync.syncstate.dlq import ENTRY_PATTERN
from incident_sync.syncstate.quarantine import ENTRY_PATTERN as QUARANTINE_PATTERN

if TYPE_CHECKING:
    from incident_sync.control.api.context import Services

log = logging.getLogger("control.access")

API: Final = "/api/v1"

# The names a field's ownership rule is addressed by: canonical, or as the tools call them.
FIELD_NAMES: Final = tuple(sorted(CANONICAL_FIELDS | set(FIELD_ALIASES)))
# Path parameters and their shapes (also the OpenAPI patterns); a value of another shape is a
# 400 naming it.
PARAMS: Final[Mapping[str, str]] = {
    "tenant": NAME_PATTERN,
    "name": NAME_PATTERN,
    # A canonical field or a platform custom field (`custom.<name>`, as field maps name it).
    "field": rf"^({'|'.join(FIELD_NAMES)}|{CUSTOM_PATH_NAME})$",
    "token_id": r"^[0-9a-f]{12}$",
    "conflict_id": r"^conflict-[0-9a-f]{12}$",
    "record_id": ids.PATTERN,  # a tool's record id: the rule of the ingress and the parsers
    "run_id": r"^rec-[0-9a-f]{12}$",
    "entry_id": ENTRY_PATTERN,
    "quarantine_id": QUARANTINE_PATTERN,
    "ref": ids.PATTERN,  # an incident as people know it: a platform id, a record's id or number
}
_COMPILED: Final = {k: re.compile(v) for k, v in PARAMS.items()}


def _param_schema(name: str) -> dict[str, Any]:
    if name == "field":
        custom = {"type": "string", "pattern": rf"^{CUSTOM_PATH_NAME}$", "maxLength": 200}
        return {"anyOf": [{"type": "string", "enum": list(FIELD_NAMES)}, custom]}
    return {"type": "string", "pattern": PARAMS.get(name, r"^.+$")}


@functools.cache
def _template(path: str) -> re.Pattern[str]:
    """A route's path as a regex, each parameter in its shape."""
    out, last = "", 0
    for m in re.finditer(r"{(\w+)}", path):
        shape = PARAMS.get(m[1], r"^[^/]+$").lstrip("^").rstrip("$")
        out += re.escape(path[last : m.start()]) + f"(?:{shape})"
        last = m.end()
    return re.compile(out + re.escape(path[last:]))


def allowed_methods(routes: Iterable[Route], path: str) -> list[str]:
    """The methods of the routes whose path matches `path` with every parameter in its shape.
    aiohttp's own `Allow` lists every route whose template matches, so `/dlq/retry` also
    offered the DELETE of `/dlq/{entry_id}`; a 405 answers with these instead."""
    return sorted({r.method for r in routes if _template(r.path).fullmatch(path)})


# How a path parameter is named in the policy's input.resource.
_RESOURCE_KEYS: Final = {
    "tenant": "tenant",
    "name": "integration",
    "field": "field",
    "token_id": "token",
    "conflict_id": "conflict",
    "record_id": "record",
    "run_id": "run",
    "entry_id": "dlq_entry",
    "quarantine_id": "quarantine_entry",
    "ref": "ref",
}


@dataclass(frozen=True)
class Call:
    request: web.Request
    subject: Subject
    params: dict[str, str]
    body: Any
    query: Any
    services: Services

    @property
    def tenant(self) -> str:
        return self.params["tenant"]

    @property
    def name(self) -> str:
        return self.params["name"]

    def allowed(self, action: str, **resource: Any) -> bool:
        """The policy's decision for another action (e.g. per item of a list)."""
        return self.services.policy.decide(
            policy_input(self.subject, action, resource, self.request)
        ).allow


Handler = Callable[[Call], Awaitable[web.StreamResponse]]
# Adds what the policy needs to know of the resource beyond the path (e.g. who commands the
# incident a conflict belongs to), before the decision.
ResourceLoader = Callable[["Services", Mapping[str, str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    action: str
    handler: Handler
    summary: str
    tag: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    extra_responses: Mapping[int, str] = field(default_factory=dict)
    resource: ResourceLoader | None = None

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


def policy_input(
    subject: Subject, action: str, resource: Mapping[str, Any], request: web.Request
) -> dict[str, Any]:
    return {
        "subject": subject.model_dump(mode="json"),
        "action": action,
        "resource": dict(resource),
        "request": {"method": request.method, "path": request.path},
    }


async def _subject(request: web.Request, services: Services) -> Subject:
    header = request.headers.get("Authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "use 'Authorization: Bearer <token>'")
    subject = await services.tokens.authenticate(token.strip())
    if subject is None:
        raise ApiError(401, "unauthorized", "the token is not valid (revoked or unknown)")
    return subject


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "bad_request", "a JSON body is required")
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream") and not ctype.endswith(
        "+json"
    ):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        # pydantic's own parser: big integers are numbers (to be refused by their bounds),
        # not a parse error as in orjson; NaN and Infinity are not JSON.
        data = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        raise ApiError(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object")
    try:
        # Strict: a JSON value of another type than the document says is refused, not
        # coerced (`false` is no number, `"5"` no integer). A number with no fraction is an
        # integer, as JSON Schema has it (`5.0`).
        return model.model_validate_json(json.dumps(_integral(data)), strict=True)
    except ValidationError as exc:
        raise invalid(exc) from None


def _integral(value: Any) -> Any:
    """`value` with every float that has no fractional part as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def _query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    # Every parameter is one value: `?name=a&name=b` is not a name.
    if repeated := sorted({k for k in request.query if len(request.query.getall(k)) > 1}):
        raise ApiError(422, "invalid", f"query.{repeated[0]}: given more than once")
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid(exc, "query.") from None


def check_params(params: Mapping[str, str], request: web.Request, routes: Iterable[Route]) -> None:
    """400 naming the first path parameter not in its shape (405 when the path is another
    route's, whose methods do not include this one)."""
    for key, value in params.items():
        pattern = _COMPILED.get(key)
        # fullmatch: a `$` alone would let a trailing newline through.
        if pattern is not None and not pattern.fullmatch(value):
            # `/dlq/retry` read as the entry `retry`: that path is another route's.
            if allowed := allowed_methods(routes, request.path):
                raise ApiError(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not one of {', '.join(allowed)} here",
                    headers={"Allow": ",".join(allowed)},
                )
            raise ApiError(400, "bad_request", f"{key} {value!r} is not a valid {key}")


async def authorize(
    route: Route,
    services: Services,
    subject: Subject,
    params: Mapping[str, str],
    request: web.Request,
) -> None:
    """The policy's decision for `route` on `params`, or the ApiError refusing it (401 for
    nobody, 403 for a subject the policy does not allow). The API's dispatch and the web
    console both decide through here."""
    check_params(params, request, services.routes)
    resource: dict[str, Any] = {_RESOURCE_KEYS.get(k, k): v for k, v in params.items()}
    if route.resource is not None:
        resource.update(await route.resource(services, params))
    decision = services.policy.decide(policy_input(subject, route.action, resource, request))
    if not decision.allow:
        if not subject.authenticated:
            raise ApiError(401, "unauthorized", decision.reason)
        raise ApiError(403, "forbidden", decision.reason)


def dispatch(
    route: Route, services: Services
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        subject = ANONYMOUS
        status = 500
        try:
            subject = await _subject(request, services)
            params = dict(request.match_info)
            await authorize(route, services, subject, params, request)
            query = _query(request, route.query) if route.query is not None else None
            body = await _body(request, route.body) if route.body is not None else None
            response = await route.handler(Call(request, subject, params, body, query, services))
            status = response.status
            return response
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe(route.action, status, elapsed)
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "action": route.action,
                    "status": status,
                    "subject": subject.id,
                    "ms": round(elapsed * 1000, 2),
                },
            )

    return handler


# -- OpenAPI -----------------------------------------------------------------------------------
_DESCRIPTIONS: Final = {
    400: "malformed request",
    401: "no valid bearer token",
    403: "the policy does not allow it",
    404: "no such resource",
    409: "conflicts with the current state",
    415: "the body is not JSON",
    422: "the request does not validate",
    502: "the tool refused the request",
}


def _mapping_files(schema: dict[str, Any], names: Sequence[str]) -> None:
    """A request's `mapping_file`: one of the mapping files the service has (or null)."""
    prop = schema.get("properties", {}).get("mapping_file")
    if prop is None:
        return
    listed: dict[str, Any] = {"type": "string", "enum": list(names)} if names else {}
    branches = [listed, {"type": "null"}] if listed else [{"type": "null"}]
    keep = {k: v for k, v in prop.items() if k in ("title", "description", "default")}
    schema["properties"]["mapping_file"] = {**keep, "anyOf": branches}


def _closed_pattern_keys(node: Any) -> None:
    """A dict whose keys must match a pattern (pydantic's `patternProperties`) takes no other
    key: said in the schema (`additionalProperties: false`), as the model refuses them."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _closed_pattern_keys(value)
    elif isinstance(node, list):
        for value in node:
            _closed_pattern_keys(value)


def openapi(
    routes: list[Route],
    *,
    title: str,
    version: str,
    mapping_files: Sequence[str] = (),
    components: Sequence[type[BaseModel]] = (),
) -> dict[str, Any]:
    """The document of `routes`; `mapping_files`: the mapping files a request may name now;
    `components`: models the routes' schemas refer to by name (the tools' options models)."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    wanted.extend((model, "validation") for model in components)
    for r in routes:
        if r.body is not None:
            wanted.append((r.body, "validation"))
        if r.query is not None:
            wanted.append((r.query, "validation"))  # its parameters' $refs resolve here too
        if r.response is not None:
            wanted.append((r.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top.get("$defs", {})
    _closed_pattern_keys(schemas)
    for r in routes:
        if r.body is not None:
            _mapping_files(
                schemas[refs[(r.body, "validation")]["$ref"].rsplit("/", 1)[-1]], mapping_files
            )
    error_ref = refs[(ErrorBody, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": r.handler.__name__.strip("_"),
            "summary": r.summary,
            "tags": [r.tag],
            "x-action": r.action,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": _param_schema(p)}
                for p in r.params
            ],
            "responses": {},
        }
        if r.description:
            op["description"] = r.description
        if r.query is not None:
            schema = schemas[refs[(r.query, "validation")]["$ref"].rsplit("/", 1)[-1]]
            for name, prop in schema.get("properties", {}).items():
                op["parameters"].append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in schema.get("required", []),
                        "schema": prop,
                    }
                )
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(r.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "ok"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(r.response, "serialization")]}}
        op["responses"][str(r.status)] = ok
        for code, text in r.extra_responses.items():
            op["responses"][str(code)] = {
                "description": text,
                "content": {"application/json": {"schema": refs[(r.response, "serialization")]}}
                if r.response is not None
                else {},
            }
        errors = set(r.errors)
        if r.body is not None:
            errors |= {400, 415, 422}
        for code in sorted(errors):
            op["responses"][str(code)] = {
                "description": _DESCRIPTIONS.get(code, "error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        if r.action not in ("openapi.read", "health.read", "metrics.read"):
            op["security"] = [{"bearer": []}]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
