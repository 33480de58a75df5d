"""Authenticating Jira webhook deliveries.

Two schemes, both keyed by the integration's `webhook_secret`:
- admin webhooks with a secret: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`
  (WebSub format; no timestamp is signed, so replays are caught by the delivery-id dedupe);
- Connect apps: `Authorization: JWT <token>`, HS256 with the tenant's shared secret, claims
  `iss` (the client key), `iat`, `exp` and `qsh` = hex SHA-256 of the canonical request
  `POST&<path>&<sorted, percent-encoded query>`; the token must be current and its qsh must
  name this request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote

import jwt

from incident_sync.connectors.base import WebhookRejected

HUB_HEADER: Final = "X-Hub-Signature"
HUB_SCHEME: Final = "sha256="
JWT_SCHEME: Final = "JWT "
LEEWAY_S: Final = 30  # clock skew allowed on exp / iat


# -- admin webhooks: X-Hub-Signature ------------------------------------------------------------
def hub_sign(secret: str, body: bytes) -> str:
    return HUB_SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    value = headers.get(HUB_HEADER)
    if not value:
        raise WebhookRejected(401, f"missing {HUB_HEADER} header")
    expected = hub_sign(secret, body).encode()
    # Several entries (comma or space separated) let a secret be rotated without a gap.
    for entry in value.replace(",", " ").split():
        if hmac.compare_digest(entry.strip().lower().encode("ascii", "replace"), expected):
            return
    raise WebhookRejected(401, f"no {HUB_HEADER} entry matches the body")


# -- Connect apps: JWT with a query string hash -------------------------------------------------
def canonical_request(method: str, path: str, query: str = "") -> str:
    """Atlassian's canonical request: METHOD&path&query (query sorted, `jwt` dropped)."""
    canonical_path = path.rstrip("/") if path not in ("", "/") else "/"
    canonical_path = canonical_path.replace("&", "%26") or "/"
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "jwt":
            params.setdefault(_encode(key), []).append(_encode(value))
    joined = "&".join(f"{k}={','.join(sorted(v))}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{canonical_path}&{joined}"


def _encode(text: str) -> str:
    return quote(text, safe="~-._")  # RFC 5849 / RFC 3986 unreserved only; space -> %20


def query_string_hash(method: str, path: str, query: str = "") -> str:
    return hashlib.sha256(canonical_request(method, path, query).encode()).hexdigest()


def jwt_encode(claims: Mapping[str, Any], secret: str) -> str:
    """An HS256 token (tests; our own calls to Jira as a Connect app would use it too)."""
    return jwt.encode(dict(claims), secret, algorithm="HS256")


def verify_connect_jwt(
    headers: Mapping[str, str],
    secret: str,
    *,
    method: str,
    path: str,
    query: str = "",
    client_key: str | None = None,
) -> dict[str, Any]:
    """The token's claims, or WebhookRejected(401) with the reason. PyJWT checks the token
    (HS256 only, signature, exp and iat against the clock within the leeway, the issuer); the
    qsh is Atlassian's own claim and is checked here."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith(JWT_SCHEME):
        raise WebhookRejected(401, "missing Authorization: JWT token")
    token = auth[len(JWT_SCHEME) :].strip()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=LEEWAY_S,
            issuer=client_key,
            options={"require": ["exp", "iat", "qsh"], "verify_iss": client_key is not None},
        )
    except jwt.InvalidTokenError as exc:
        raise WebhookRejected(401, _jwt_reason(exc)) from None
    qsh = claims["qsh"]
    if not isinstance(qsh, str) or not hmac.compare_digest(
        qsh.encode(), query_string_hash(method, path, query).encode()
    ):
        raise WebhookRejected(401, "the JWT's qsh does not match this request")
    return claims


def _jwt_reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "the JWT must be signed with HS256"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the JWT signature does not match the shared secret"
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the JWT has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the JWT was issued in the future"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the JWT was issued by another client key"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the JWT has no {exc.claim} claim"
    if isinstance(exc, jwt.DecodeError):
        return f"the JWT cannot be decoded: {exc}"
    return f"the JWT is not valid: {exc}"
