"""Jira webhook authentication: admin-webhook X-Hub-Signature and Connect JWTs with qsh."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import pytest

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.jira import signature
from incident_sync.connectors.jira.connector import JiraConnector
from tests.unit.connectors.jira.helpers import SAMPLES, SECRET, config

BODY = b'{"webhookEvent": "jira:issue_updated"}'


def verify(headers: dict[str, str], body: bytes = BODY, **options: str) -> None:
    JiraConnector(config(**options)).verify(httpx.Headers(headers), body)


def test_hub_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    # Atlassian's format: sha256=<hex>, as `openssl dgst -sha256 -hmac` prints it
    assert signature.hub_sign("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_a_signed_delivery_verifies_and_a_tampered_one_fails() -> None:
    body = (SAMPLES / "webhook_jira_issue_updated__status_change.json").read_bytes()
    good = signature.hub_sign(SECRET, body)
    verify({"X-Hub-Signature": good}, body)
    with pytest.raises(WebhookRejected):
        verify({"X-Hub-Signature": good}, body.replace(b"In Progress", b"Done"))
    with pytest.raises(WebhookRejected):
        verify({"X-Hub-Signature": signature.hub_sign("other secret", body)}, body)
    with pytest.raises(WebhookRejected, match="missing"):
        verify({}, body)


def test_several_signatures_allow_a_secret_rotation() -> None:
    header = f"{signature.hub_sign('old', BODY)}, {signature.hub_sign(SECRET, BODY)}"
    verify({"X-Hub-Signature": header})


def token(secret: str = SECRET, *, path: str = "/webhooks/prod-jira", **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": "jira:1234",
        "iat": now,
        "exp": now + 180,
        "qsh": signature.query_string_hash("POST", path),
        **claims,
    }
    return "JWT " + signature.jwt_encode(body, secret)


def test_a_connect_jwt_with_the_right_qsh_verifies_when_the_option_allows_jwts() -> None:
    verify({"Authorization": token()}, connect_client_key="jira:1234", webhook_auth="connect-jwt")
    verify({"Authorization": token()}, connect_client_key="jira:1234", webhook_auth="any")


def test_by_default_only_the_body_signature_is_accepted() -> None:
    """A Connect JWT's qsh does not cover the body: by default a JWT-only delivery (a valid
    token, any body) is refused, and a delivery without X-Hub-Signature too."""
    with pytest.raises(WebhookRejected, match="X-Hub-Signature"):
        verify({"Authorization": token()}, connect_client_key="jira:1234")
    with pytest.raises(WebhookRejected, match="X-Hub-Signature"):
        verify({})
    verify({"X-Hub-Signature": signature.hub_sign(SECRET, BODY)})


# Tokens are made when the test runs, not at collection: a long suite would expire them.
BAD_TOKENS: list[tuple[Callable[[], str], str]] = [
    (lambda: token("another-shared-secret-not-the-tenants"), "signature"),
    (lambda: token(exp=int(time.time()) - 3600), "expired"),
    (lambda: token(iat=int(time.time()) + 3600), "future"),
    (lambda: token(path="/webhooks/other"), "qsh"),
    (lambda: token(iss="jira:evil"), "client key"),
    (lambda: "JWT abc.def", "cannot be decoded"),
    (lambda: "JWT !!.??.##", "cannot be decoded"),
    (lambda: token(qsh=None), "qsh"),
]


@pytest.mark.parametrize(("make_auth", "reason"), BAD_TOKENS)
def test_bad_connect_jwts_are_refused(make_auth: Callable[[], str], reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        verify({"Authorization": make_auth()}, connect_client_key="jira:1234", webhook_auth="any")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_jwt_signed_with_another_algorithm_is_refused() -> None:
    header = b64url(b'{"alg":"none","typ":"JWT"}')
    claims = b64url(b'{"qsh":"x","exp":99999999999,"iat":1}')
    with pytest.raises(WebhookRejected, match="HS256"):
        verify({"Authorization": f"JWT {header}.{claims}."}, webhook_auth="connect-jwt")


def test_the_mode_option_forces_one_scheme() -> None:
    signed = {"X-Hub-Signature": signature.hub_sign(SECRET, BODY)}
    with pytest.raises(WebhookRejected, match="JWT"):
        verify(signed, webhook_auth="connect-jwt")
    with pytest.raises(WebhookRejected, match="X-Hub-Signature"):
        verify({"Authorization": token()}, webhook_auth="hmac")


def test_canonical_request_follows_atlassian_rules() -> None:
    assert signature.canonical_request("get", "/", "param=foo") == "GET&/&param=foo"
    assert signature.canonical_request("POST", "/user/", "") == "POST&/user&"
    assert (
        signature.canonical_request("GET", "/a&b", "z=1&a=x y&a=b&jwt=tok")
        == "GET&/a%26b&a=b,x%20y&z=1"
    )
