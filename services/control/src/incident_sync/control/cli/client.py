"""The `im` CLI's connections (the control API, and the ingress for `im sync`), and its exit
codes.

Where it connects, per value: the flag (`--api-url`, `--token`, `--tenant`, `--ingress-url`),
else the environment (`IM_API_URL`, `IM_TOKEN`, `IM_TENANT`, `IM_INGRESS_URL`,
`SYNC_API_TOKEN`), else the context in use in im.toml (`cli.contexts`: `--context`, else
`IM_CONTEXT`, else `current_context`; without one the file's flat keys), else
http://127.0.0.1:8090, http://127.0.0.1:8080 and tenant `default`. A token from the file goes
only to the address stored beside it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, Final, NoReturn, ParamSpec

import click
import httpx

from incident_sync.control.cli.contexts import ConfigError, ConfigFile
from incident_sync.control.cli.output import format_option

# Exit codes, documented in `im --help` and the README.
P = ParamSpec("P")

OK: Final = 0
ERROR: Final = 1  # the server failed, cannot be reached, or the operation failed (e.g. a test)
USAGE: Final = 2  # bad options or arguments, or the server refused the input (400/422)
NOT_FOUND: Final = 3  # no such integration, token, ...
FORBIDDEN: Final = 4  # no valid token (401) or the policy does not allow it (403)
CONFLICT: Final = 5  # already exists / clashes with the current state (409)

_BY_STATUS: Final = {400: USAGE, 401: FORBIDDEN, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT,
                     415: USAGE, 422: USAGE}  # fmt: skip

DEFAULT_URL: Final = "http://127.0.0.1:8090"
DEFAULT_INGRESS_URL: Final = "http://127.0.0.1:8080"


def exit_code(status: int) -> int:
    """The exit code for an HTTP error status (the ingress's as the control API's)."""
    return _BY_STATUS.get(status, ERROR)


def fail(message: str, code: int = ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@dataclass(frozen=True)
class Service:
    """What a connection reads for one service: its keys in a context, its variables."""

    label: str  # in messages: "cannot reach <label> at <url>"
    url_key: str
    token_key: str
    url_env: str
    token_env: str
    default_url: str


CONTROL: Final = Service("the control API", "api_url", "token", "IM_API_URL", "IM_TOKEN",
                         DEFAULT_URL)  # fmt: skip
INGRESS: Final = Service("the ingress", "ingress_url", "sync_token", "IM_INGRESS_URL",
                         "SYNC_API_TOKEN", DEFAULT_INGRESS_URL)  # fmt: skip


@dataclass
class Options:
    """The global options of `im` (flags, and IM_CONTEXT), resolved into connections on first
    use: a command that connects nowhere (`im completion`, `im config`) reads no file."""

    api_url: str | None = None
    token: str | None = None
    tenant: str | None = None
    ingress_url: str | None = None
    context: str | None = None
    _apis: dict[str, Api] = field(default_factory=dict, repr=False)

    def api(self, service: Service = CONTROL) -> Api:
        if service.label not in self._apis:
            self._apis[service.label] = self._resolve(service)
        return self._apis[service.label]

    def _resolve(self, service: Service) -> Api:
        try:
            context = ConfigFile.load().select(self.context)
        except ConfigError as exc:
            fail(str(exc), USAGE)
        flag_url, flag_token = (
            (self.api_url, self.token) if service is CONTROL else (self.ingress_url, None)
        )
        stored_url = _url(context.get(service.url_key) or service.default_url)
        url = _url(flag_url or os.environ.get(service.url_env) or stored_url)
        token = flag_token or os.environ.get(service.token_env) or None
        stored_token = context.get(service.token_key)
        if token is None and stored_token:
            if url == stored_url:
                token = stored_token
            else:  # never send a stored token to another address than its own
                where = f"context {context.name!r}" if context.name else "the config file"
                click.echo(
                    f"warning: the {service.token_key} of {where} is for {stored_url}, not "
                    f"{url}: not sent (give {service.token_env})",
                    err=True,
                )
        tenant = self.tenant or os.environ.get("IM_TENANT") or context.get("tenant") or "default"
        return Api(url=url, token=token, tenant=tenant, label=service.label)


def _url(url: str) -> str:
    return url.rstrip("/")


@dataclass
class Api:
    url: str
    token: str | None
    tenant: str
    label: str = CONTROL.label
    _http: httpx.Client | None = field(default=None, repr=False)

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
            fail(f"cannot reach {self.label} at {self.url}: {exc}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 and response.status_code not in allow:
            reason = body.get("reason") if isinstance(body, dict) else response.text[:200]
            code = exit_code(response.status_code)
            fail(f"{reason} (HTTP {response.status_code})", code)
        return response.status_code, body

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)[1]


def api(ctx: click.Context, service: Service = CONTROL) -> Api:
    """The connection to the control API (or `service`) for this command."""
    options = ctx.find_object(Options)
    if options is None:
        fail("internal: no connection options", ERROR)
    return options.api(service)


def api_command(func: Callable[Concatenate[Api, P], None]) -> Callable[P, None]:
    """A command that talks to the control API: it gets the connection (`api(ctx)`) as its
    first argument, and `--format/-o`."""

    @click.pass_context
    @functools.wraps(func)
    def command(ctx: click.Context, /, *args: P.args, **kwargs: P.kwargs) -> None:
        func(api(ctx), *args, **kwargs)

    return format_option(command)
