"""OAuth 2.0 for ServiceNow as an httpx.Auth: password grant at `/oauth_token.do`.

The flow fetches a token before the first request, renews it shortly before it expires
(with the refresh token when one was issued, else a new password grant), and answers one
401 with a fresh token and a single retry: a token revoked or expired early on the instance
must not fail a delivery. Token requests go through the same httpx client, so they share its
pool, timeouts and test transports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Final

import httpx
import orjson

from incident_sync.connectors.base import classify_http_error

TOKEN_PATH: Final = "/oauth_token.do"  # noqa: S105 - an endpoint path
# Renew this long before expiry so a request never leaves with a token about to lapse.
EXPIRY_MARGIN_S: Final = 60.0


class ServiceNowOAuth(httpx.Auth):
    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = base_url.rstrip("/") + TOKEN_PATH
        self._client = {"client_id": client_id, "client_secret": client_secret}
        self._user = {"username": username, "password": password}
        self._clock = clock
        self._lock = asyncio.Lock()  # one renewal at a time, not one per waiting request
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("ServiceNowOAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used: str | None = None
        for attempt in range(2):
            async with self._lock:
                if attempt == 1 and self._access == used:
                    self._access = None  # the instance refused it: renew even if not expired
                if not self._valid():
                    grants = self._grants()
                    for i, form in enumerate(grants):
                        token_response = yield self._token_request(form)
                        await token_response.aread()
                        if self._accept(token_response, last=i == len(grants) - 1):
                            break
                used = self._access
            request.headers["Authorization"] = f"Bearer {used}"
            response = yield request
            if response.status_code != 401:
                return
            await response.aread()  # released before the retry reuses the connection

    def _valid(self) -> bool:
        return self._access is not None and self._clock() < self._expires_at

    def _grants(self) -> list[dict[str, str]]:
        grants = []
        if self._refresh is not None:
            grants.append({"grant_type": "refresh_token", "refresh_token": self._refresh})
        grants.append({"grant_type": "password", **self._user})
        return [{**g, **self._client} for g in grants]

    def _token_request(self, form: dict[str, str]) -> httpx.Request:
        return httpx.Request(
            "POST", self._token_url, data=form, headers={"Accept": "application/json"}
        )

    def _accept(self, response: httpx.Response, *, last: bool) -> bool:
        """Store a granted token; a refused refresh falls back to the next grant."""
        data: object = None
        if response.is_success:
            try:
                data = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                data = None
        if isinstance(data, dict) and isinstance(data.get("access_token"), str):
            self._access = data["access_token"]
            refresh = data.get("refresh_token")
            self._refresh = refresh if isinstance(refresh, str) and refresh else self._refresh
            expires_in = _seconds(data.get("expires_in"))
            margin = min(EXPIRY_MARGIN_S, expires_in / 10)
            self._expires_at = self._clock() + expires_in - margin
            return True
        self._refresh = None  # a refused or odd refresh token is not tried again
        if not last:
            return False
        raise classify_http_error(response, f"ServiceNow OAuth token: {_oauth_error(response)}")


def _seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(1.0, float(value))
    if isinstance(value, str):
        try:
            return max(1.0, float(value))
        except ValueError:
            pass
    return 1800.0  # ServiceNow's default access token lifespan


def _oauth_error(response: httpx.Response) -> str:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "error" in data:
        return f"{data['error']}: {data.get('error_description', '')}".rstrip(": ")
    if response.is_success:
        return "the token endpoint answered without an access_token"
    return f"HTTP {response.status_code}"
