"""The `im` CLI's connection to the control API, and its exit codes.

Where it connects: `--api-url` / `--token` / `--tenant`, else `IM_API_URL` / `IM_TOKEN` /
`IM_TENANT`, else the config file (`IM_CONFIG`, default ~/.config/incident-sync/im.toml, keys
`api_url`, `token`, `tenant`), else http://127.0.0.1:8090 and tenant `default`.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

import click
import httpx

# Exit codes, documented in `im --help` and the README.
OK: Final = 0
ERROR: Final = 1  # the server failed, cannot be reached, or the operation failed (e.g. a test)
USAGE: Final = 2  # bad options or arguments, or the server refused the input (400/422)
NOT_FOUND: Final = 3  # no such integration, token, ...
FORBIDDEN: Final = 4  # no valid token (401) or the policy does not allow it (403)
CONFLICT: Final = 5  # already exists / clashes with the current state (409)

_BY_STATUS: Final = {400: USAGE, 401: FORBIDDEN, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT,
                     415: USAGE, 422: USAGE}  # fmt: skip

DEFAULT_URL: Final = "http://127.0.0.1:8090"


def exit_code(status: int) -> int:
    """The exit code for an HTTP error status (the ingress's as the control API's)."""
    return _BY_STATUS.get(status, ERROR)


def fail(message: str, code: int = ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _file_config() -> dict[str, Any]:
    path = Path(
        os.environ.get("IM_CONFIG", Path.home() / ".config" / "incident-sync" / "im.toml")
    ).expanduser()
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot read the config file {path}: {exc}", USAGE)


@dataclass
class Api:
    url: str
    token: str | None
    tenant: str
    _http: httpx.Client | None = field(default=None, repr=False)

    @classmethod
    def resolve(cls, url: str | None, token: str | None, tenant: str | None) -> Api:
        conf = _file_config()
        return cls(
            url=(url or os.environ.get("IM_API_URL") or conf.get("api_url") or DEFAULT_URL).rstrip(
                "/"
            ),
            token=token or os.environ.get("IM_TOKEN") or conf.get("token"),
            tenant=tenant or os.environ.get("IM_TENANT") or conf.get("tenant") or "default",
        )

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=30.0)
        return self._http

    def tenant_path(self, tail: str) -> str:
        return f"/api/v1/tenants/{self.tenant}{tail}"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """(status, body); an error status not in `allow` ends the command with its code."""
        try:
            response = self.http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the control API at {self.url}: {exc}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 and response.status_code not in allow:
            reason = body.get("reason") if isinstance(body, dict) else response.text[:200]
            code = _BY_STATUS.get(response.status_code, ERROR)
            fail(f"{reason} (HTTP {response.status_code})", code)
        return response.status_code, body

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)[1]


def api(ctx: click.Context) -> Api:
    obj = ctx.find_object(Api)
    if obj is None:
        fail("internal: no API context", ERROR)
    return obj
