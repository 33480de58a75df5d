"""Basic auth, OAuth 2.0 tokens (`/oauth_token.do`) and per-user hourly rate limits."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

RATE_RULE_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # sys_id of the one sys_rate_limit_rules row


def sn_error(status: int, message: str, detail: str | None) -> web.Response:
    """ServiceNow's REST error envelope."""
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    return web.json_response(body, status=status)


def unauthenticated() -> web.Response:
    return sn_error(401, "User Not Authenticated", "Required to provide Auth information")


@dataclass
class Token:
    user: str
    expires_at: float


@dataclass
class Auth:
    users: dict[str, str]
    clients: dict[str, tuple[str, str]]
    token_ttl_s: int = 1799
    rate_limit_per_hour: int | None = None
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, Token] = field(default_factory=dict)
    hits: Counter[tuple[str, int]] = field(default_factory=Counter)

    def check_password(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and hmac.compare_digest(expected, password)

    def check_client(self, client_id: str, secret: str) -> bool:
        client = self.clients.get(client_id)
        return client is not None and hmac.compare_digest(client[0], secret)

    def user_of(self, request: web.Request) -> str | None:
        """The authenticated user name, from Basic credentials or a Bearer token."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user if self.check_password(user, password) else None
        if scheme.lower() == "bearer":
            token = self.access.get(value.strip())
            if token is not None and token.expires_at > time.time():
                return token.user
        return None

    def issue(self, user: str) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(64), secrets.token_urlsafe(64)
        self.access[access] = Token(user, time.time() + self.token_ttl_s)
        self.refresh[refresh] = Token(user, time.time() + 100 * 24 * 3600)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.token_ttl_s,
        }

    def rate_limit(self, user: str) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, headers). Windows are clock hours, as counters reset."""
        limit = self.rate_limit_per_hour
        if limit is None:
            return True, {}
        window = int(time.time()) // 3600
        self.hits[(user, window)] += 1
        reset_at = (window + 1) * 3600
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": str(reset_at),
            "X-RateLimit-Rule": RATE_RULE_ID,
        }
        if self.hits[(user, window)] <= limit:
            return True, headers
        headers["Retry-After"] = str(max(1, reset_at - int(time.time())))
        return False, headers


def oauth_denied() -> web.Response:
    return web.json_response(
        {"error_description": "access_denied", "error": "server_error"}, status=401
    )


async def token_endpoint(request: web.Request, auth: Auth) -> web.Response:
    """POST /oauth_token.do with the password, client_credentials or refresh_token grant."""
    form = await request.post()

    def get(name: str) -> str:
        return str(form.get(name, ""))

    client_id, client_secret = get("client_id"), get("client_secret")
    if not client_id and request.headers.get("Authorization", "").lower().startswith("basic "):
        try:
            raw = base64.b64decode(request.headers["Authorization"][6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return oauth_denied()
        client_id, _, client_secret = raw.partition(":")
    if not auth.check_client(client_id, client_secret):
        return oauth_denied()
    grant = get("grant_type")
    if grant == "password":
        if not auth.check_password(get("username"), get("password")):
            return oauth_denied()
        return web.json_response(auth.issue(get("username")))
    if grant == "client_credentials":
        user = auth.clients[client_id][1] or next(iter(auth.users))
        return web.json_response(auth.issue(user))
    if grant == "refresh_token":
        token = auth.refresh.get(get("refresh_token"))
        if token is None or token.expires_at < time.time():
            return oauth_denied()
        return web.json_response(auth.issue(token.user))
    return web.json_response(
        {"error_description": "unsupported grant_type", "error": "unsupported_grant_type"},
        status=400,
    )
