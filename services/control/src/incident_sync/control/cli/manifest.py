"""The declarative form of a side, as `im get -o yaml` prints it and `im apply` reads it.

    apiVersion: incident-sync/v1
    kind: Integration            # or Platform
    metadata: {name: prod-snow, tenant: default}
    spec:
      type: servicenow
      base_url: https://acme.service-now.com
      direction: bidirectional
      ...
      secrets:
        password: ${SERVICENOW_PASSWORD}   # from the environment of `im apply`
        webhook_secret: set                # keep the stored value
        api_key: unset                     # clear it

Secrets are write-only, so `get` shows `set` / `unset`, and applying `set` keeps what is
stored: applying a `get` output changes nothing. A literal value is accepted too, but keep
secrets out of files: use `${VAR}`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

API_VERSION: Final = "incident-sync/v1"
KINDS: Final = ("Integration", "Platform")
_META: Final = (
    "name", "tenant", "secrets", "revision", "created_at", "updated_at", "created_by",
    "updated_by",
)  # fmt: skip
_VAR: Final = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class ManifestError(ValueError):
    pass


def to_manifest(view: dict[str, Any], kind: str) -> dict[str, Any]:
    spec = {k: v for k, v in view.items() if k not in _META and v is not None}
    spec["secrets"] = dict(view.get("secrets", {}))
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": view["name"], "tenant": view["tenant"]},
        "spec": spec,
    }


def to_request(doc: Any, default_tenant: str) -> tuple[str, str, str, dict[str, Any]]:
    """(kind, tenant, name, PUT body) of one document."""
    if not isinstance(doc, dict):
        raise ManifestError("a document must be a mapping")
    if doc.get("apiVersion") != API_VERSION:
        raise ManifestError(f"apiVersion must be {API_VERSION}")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ManifestError(f"kind must be one of {', '.join(KINDS)}")
    meta = doc.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError("metadata.name is required")
    tenant = str(meta.get("tenant") or default_tenant)
    spec = dict(doc.get("spec") or {})
    secrets = spec.pop("secrets", None) or {}
    if not isinstance(secrets, dict):
        raise ManifestError(f"{name}: spec.secrets must be a mapping")
    body = dict(spec)
    for field, value in secrets.items():
        if value == "set":
            continue  # keep the stored value
        if value is None or value == "unset":
            body[field] = None
            continue
        text = str(value)
        match = _VAR.match(text)
        if match:
            env = os.environ.get(match.group(1))
            if env is None:
                raise ManifestError(f"{name}: secrets.{field} needs ${match.group(1)} set")
            text = env
        body[field] = text
    if kind == "Platform":
        body["name"] = name
    return kind, tenant, name, body
