"""The base every tool client is built on: one integration's HTTP to one tool's API.

A client names what differs per vendor and inherits the rest:
- `base_url` (the vendor's default when the config leaves it empty) with the auth bound to
  its origin (`transport.bound_auth`), and the per-request timeout of the integration;
- `error_text`, the vendor's error message out of its error body (the base falls back to
  the status and the start of the body), and `RESET_HEADERS`, the rate-limit headers saying
  when to try again, read on a 429 that has no `Retry-After` (`classify`);
- `PARAMS`, query parameters every request carries (ServiceNow's read options).
`ToolConnector` is the connector side: one client per httpx client, made for the integration
(its configured name labels the metric), and the check that the credentials it needs are set.
Every request goes through `transport.send` (timeouts, refused connections, error statuses
and redirects as `ToolError`) and is timed in `incident_sync_tool_request_seconds` under the
integration's configured name, its method and its status (`connectors.metrics`).
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import SecretStr

from incident_sync.connectors.base import Connector, RequestNotSent, ToolError, classify_http_error
from incident_sync.connectors.transport import body_json, bound_auth, json_object, send

Params = Mapping[str, str | int]


class Reset(Enum):
    """How a rate-limit header states the time to try again."""

    SECONDS = "seconds"  # seconds from now (PagerDuty `ratelimit-reset`, Datadog's)
    UNIX = "unix"  # a Unix time (ServiceNow `X-RateLimit-Reset`)
    ISO = "iso"  # an ISO 8601 time, `yyyy-MM-ddTHH:mmZ` (Jira `X-RateLimit-Reset`)


@dataclass(frozen=True)
class ResetHeader:
    """A vendor's rate-limit header (`name`, case-insensitive) and how it states the time."""

    name: str
    unit: Reset

    def wait_s(self, headers: httpx.Headers, now: float) -> float | None:
        """Seconds until the reset the header states (never negative), None if it states none."""
        value = headers.get(self.name, "").strip()
        if not value:
            return None
        try:
            if self.unit is Reset.SECONDS:
                return max(0.0, float(value))
            if self.unit is Reset.UNIX:
                return max(0.0, float(value) - now)
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return max(0.0, stamp.timestamp() - now)


class HeaderAuth(httpx.Auth):
    """Credentials (and the headers the vendor wants with them) set on every request;
    `with_body` only on requests that carry a body."""

    def __init__(
        self, headers: Mapping[str, str], *, with_body: Mapping[str, str] | None = None
    ) -> None:
        self._headers = dict(headers)
        self._with_body = dict(with_body or {})

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers)
        if request.content:
            request.headers.update(self._with_body)
        yield request


def bearer(token: str, *, with_body: Mapping[str, str] | None = None) -> HeaderAuth:
    """`Authorization: Bearer <token>`."""
    return HeaderAuth({"Authorization": f"Bearer {token}"}, with_body=with_body)


class ToolClient:
    """One integration's client for its tool's API (see the module's docstring)."""

    DEFAULT_BASE_URL: ClassVar[str] = ""
    PATH_PREFIX: ClassVar[str] = ""  # before every path (Jira's /rest/api/3)
    RESET_HEADERS: ClassVar[tuple[ResetHeader, ...]] = ()
    PARAMS: ClassVar[Params] = {}

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        integration: str,
        base_url: str,
        auth: httpx.Auth,
        timeout_s: float,
    ) -> None:
        self.http = http
        # The metric's label: the integration's configured name, never a URL or a secret.
        self.integration = integration
        self._base = (base_url or self.DEFAULT_BASE_URL).rstrip("/") + self.PATH_PREFIX
        self._auth = bound_auth(auth, self._base)
        self._timeout = timeout_s

    # -- the vendor's hooks ----------------------------------------------------------------
    def error_text(self, body: object) -> str | None:
        """The vendor's message in an error body (parsed JSON, None if it is not JSON);
        None when the body is not in the vendor's error shape."""
        return None

    def error_message(self, response: httpx.Response) -> str:
        text = self.error_text(body_json(response))
        return text or f"HTTP {response.status_code}: {response.text[:200]}"

    def classify(self, response: httpx.Response, message: str) -> ToolError:
        """`classify_http_error`; a 429 without `Retry-After` waits for the first of the
        vendor's `RESET_HEADERS` that states a time."""
        error = classify_http_error(response, message)
        if response.status_code != 429 or error.retry_after_s is not None:
            return error
        now = time.time()
        for header in self.RESET_HEADERS:
            wait = header.wait_s(response.headers, now)
            if wait is not None:
                return ToolError(message, status=429, retryable=True, retry_after_s=wait)
        return error

    # -- requests --------------------------------------------------------------------------
    async def _send(
        self, method: str, path: str, *, params: Params | None = None, json: object = None
    ) -> httpx.Response:
        """`method` on `base_url + path`; ToolError for anything but a 2xx."""
        return await send(
            self.http,
            method,
            self._base + path,
            error_message=self.error_message,
            auth=self._auth,
            params={**self.PARAMS, **(params or {})} if self.PARAMS else params,
            json=json,
            timeout_s=self._timeout,
            classify=self.classify,
            integration=self.integration,
        )

    async def _call(
        self, method: str, path: str, *, params: Params | None = None, json: object = None
    ) -> dict[str, Any]:
        """`_send`, its answer as a JSON object (a retryable ToolError when it is not)."""
        return json_object(await self._send(method, path, params=params, json=json))


def member(data: Mapping[str, Any], key: str, vendor: str) -> dict[str, Any]:
    """The object `data[key]` of an answer; a non-retryable ToolError when it is missing."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise ToolError(f"{vendor} answered without {key!r}", retryable=False)
    return value


def path_id(pattern: re.Pattern[str], value: str, refusal: str) -> str:
    """`value` when it matches `pattern`: ids go into URL paths, so anything that could reach
    another resource is refused (a non-retryable ToolError `refusal: value`)."""
    if not pattern.match(value):
        raise ToolError(f"{refusal}: {value!r}", retryable=False)
    return value


C = TypeVar("C", bound=ToolClient)


class ToolConnector(Connector, Generic[C]):
    """A connector over one `ToolClient`: made on first use and again when the httpx client
    changes (after `aclose`, or one injected later); kept otherwise, for its lookup caches."""

    _client: C | None = None

    @property
    def client(self) -> C:
        http = self.http
        if self._client is None or self._client.http is not http:
            self._client = self._new_client(http)
        return self._client

    # The tool's client class; each connector names its own.
    client_class: type[C]

    @abc.abstractmethod
    def _auth(self) -> httpx.Auth:
        """The tool's credentials from the config (`_required`); the client binds them to
        the origin of `base_url`."""

    def _new_client(self, http: httpx.AsyncClient) -> C:
        cfg = self.config
        return self.client_class(
            http,
            integration=cfg.id,
            base_url=cfg.base_url,
            auth=self._auth(),
            timeout_s=cfg.timeout_s,
        )

    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout_s)

    def _required(self, what: str, *values: SecretStr | str | None) -> list[str]:
        """The credentials `values`, as plain strings; `RequestNotSent` naming `what` (never a
        value) when one is not configured: no request can be made, so none reaches the tool."""
        out = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values if v]
        if len(out) < len(values):
            raise RequestNotSent(f"{self.config.id}: {what} required")
        return out
