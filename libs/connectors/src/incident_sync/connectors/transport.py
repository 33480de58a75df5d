"""HTTP plumbing shared by the tool clients: one place that turns httpx outcomes into ToolError.

Every client call goes through `send`, so a timeout, a refused connection, a 4xx/5xx and a
200 that is not JSON (a ServiceNow developer instance asleep answers an HTML page with 200)
all surface as `ToolError` with the right `retryable` flag, never as a raw httpx exception.

Credentials go to the configured host only: each client binds its auth to the origin of its
`base_url` (`bound_auth`), so a request for any other origin is refused before the
credentials are attached; and `send` never follows a redirect (httpx would carry custom
credential headers such as Datadog's along to wherever the answer points).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx
import orjson

from incident_sync.connectors import metrics
from incident_sync.connectors.base import RequestNotSent, ToolError, classify_http_error
from incident_sync.syncmodel.destination import origin

# Builds the human message for a failed response from the vendor's error body.
ErrorMessage = Callable[[httpx.Response], str]


# The status of the last answer a tool gave in this task (`last_status`): what a caller that
# only sees the connector's result (the delivery's timeline) can tell of the request.
_answered: ContextVar[int | None] = ContextVar("incident_sync_tool_answer", default=None)


def last_status() -> int | None:
    """The HTTP status of the last answer `send` received in the current task, if any."""
    return _answered.get()


def forget_status() -> None:
    """Forget the last answer (before the requests whose status is wanted)."""
    _answered.set(None)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    error_message: ErrorMessage,
    auth: httpx.Auth | None = None,
    params: Mapping[str, str | int] | None = None,
    json: object = None,
    timeout_s: float | None = None,
    classify: Callable[[httpx.Response, str], ToolError] = classify_http_error,
    integration: str | None = None,
) -> httpx.Response:
    """Send one request; raise ToolError for transport failures and error statuses.

    With `integration` (the integration's configured name), the request's duration goes to
    `incident_sync_tool_request_seconds{integration, method, code}`; a request that never
    left (`RequestNotSent`) is not observed.
    """
    content = orjson.dumps(json) if json is not None else None
    headers = {"Accept": "application/json"}
    if content is not None:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    code: str | None = metrics.NO_ANSWER
    try:
        response = await http.request(
            method,
            url,
            params=dict(params) if params is not None else None,
            content=content,
            headers=headers,
            # httpx's default sentinel means "the client's own setting"; only override when set.
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=False,  # whatever the client was made with
        )
        code = str(response.status_code)
        _answered.set(response.status_code)
    except (RequestNotSent, asyncio.CancelledError):  # nothing sent, or we stopped waiting
        code = None
        raise
    except httpx.InvalidURL as exc:  # not an HTTP error: a URL httpx will not send to
        code = None
        raise RequestNotSent(f"{method}: not a usable URL: {exc}") from exc
    except UnicodeEncodeError:  # a header value (a credential) that HTTP cannot carry
        code = None
        # Not quoted: the value may be a secret.
        raise RequestNotSent(f"{method}: a header value (a credential?) is not ASCII") from None
    except httpx.TimeoutException as exc:
        code = metrics.TIMEOUT
        raise ToolError(f"{method} {url}: timed out ({exc!r})", retryable=True) from exc
    except httpx.TransportError as exc:
        raise ToolError(f"{method} {url}: {exc!r}", retryable=True) from exc
    finally:
        if integration is not None and code is not None:
            metrics.TOOL_REQUEST_SECONDS.labels(integration, method, code).observe(
                time.perf_counter() - started
            )
    if response.is_error:
        await response.aread()
        raise classify(response, f"{method} {_path(url)}: {error_message(response)}")
    if response.is_redirect:
        # A tool's API does not redirect its calls; a base_url that needs one is wrong.
        target = origin(response.headers.get("location", ""))
        raise ToolError(
            f"{method} {_path(url)}: answered {response.status_code} pointing to {target}; "
            "redirects are not followed (check base_url)",
            status=response.status_code,
            retryable=False,
        )
    return response


class BoundAuth(httpx.Auth):
    """`inner`'s credentials, for one origin only.

    Every request of the auth flow passes here before it leaves, the client's own and those
    the flow makes itself (an OAuth token request): one for any other origin raises
    `RequestNotSent` instead of being sent, credentials and all.
    """

    def __init__(self, inner: httpx.Auth, base_url: str) -> None:
        self._inner = inner
        self.origin = origin(base_url)
        self.requires_request_body = inner.requires_request_body
        self.requires_response_body = inner.requires_response_body

    def _check(self, request: httpx.Request) -> httpx.Request:
        target = origin(str(request.url))
        if target != self.origin:
            raise RequestNotSent(f"refused to send the credentials for {self.origin} to {target}")
        return request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        flow = self._inner.sync_auth_flow(self._check(request))
        outgoing = next(flow)
        while True:
            response = yield self._check(outgoing)
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._inner.async_auth_flow(self._check(request))
        outgoing = await flow.__anext__()
        while True:
            response = yield self._check(outgoing)
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return


def bound_auth(auth: httpx.Auth, base_url: str) -> BoundAuth:
    """`auth` attached only to requests for the origin of `base_url`."""
    return auth if isinstance(auth, BoundAuth) else BoundAuth(auth, base_url)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or a retryable ToolError."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        # A proxy page or a hibernating instance: the request may well succeed later.
        snippet = response.text[:120].replace("\n", " ")
        raise ToolError(
            f"{response.request.method} {_path(str(response.request.url))}: expected a JSON "
            f"object, got {response.headers.get('content-type', '?')}: {snippet!r}",
            status=response.status_code,
            retryable=True,
        )
    return data


def body_json(response: httpx.Response) -> object:
    """The error body parsed leniently (None when it is not JSON)."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _path(url: str) -> str:
    # Messages end up in logs and dead-letter records: keep the query string (which may hold
    # ids) but never a userinfo part.
    parsed = httpx.URL(url)
    return parsed.raw_path.decode("ascii", "replace")
