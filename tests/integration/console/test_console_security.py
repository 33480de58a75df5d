"""The console's security properties over HTTP (httpx, no browser) against the real control
service on a real redis-server: sign-in with an API token and an httpOnly SameSite=Strict
session cookie that expires and ends at sign-out or revocation; a CSRF token on every form;
the Content-Security-Policy on every answer; the API's RBAC (a viewer gets no write control,
and a forged write is 403); no secret in any page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.console.signin import csrf_of, sign_in
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "webco"
API = f"/api/v1/tenants/{TENANT}"
C = f"/console/t/{TENANT}"


@pytest.fixture(scope="module")
def secret(control: ControlService) -> Iterator[str]:
    """An integration whose password and webhook secret are `secret`."""
    value = control.secret()
    with control.client(control.admin) as admin:
        r = admin.post(
            f"{API}/integrations",
            json={
                "name": "snow-web",
                "type": "servicenow",
                "base_url": "http://127.0.0.1:9",
                "username": "sync",
                "password": value,
                "webhook_secret": value,
            },
        )
        assert r.status_code == 201, r.text
    yield value


def browser(control: ControlService) -> httpx.Client:
    return httpx.Client(base_url=control.url, timeout=10.0)


def test_every_page_needs_a_session_and_the_sign_in_form_its_csrf(
    control: ControlService, secret: str
) -> None:
    with browser(control) as b:
        for path in (
            "/console/",
            f"{C}/integrations",
            f"{C}/integrations/snow-web",
            f"{C}/conflicts",
        ):
            r = b.get(path)
            assert (r.status_code, r.headers["location"]) == (303, "/console/signin"), path
        # No session: a form is refused, whatever it asks.
        assert b.post(f"{C}/integrations/snow-web/pause", data={"csrf": "x"}).status_code == 403
        # Sign-in without the form's CSRF token (a cross-site post) signs nobody in.
        r = b.post("/console/signin", data={"token": control.admin})
        assert r.status_code == 403 and "im_console=" not in r.headers.get("set-cookie", "")
        b.get("/console/signin")
        r = b.post("/console/signin", data={"csrf": "é", "token": control.admin})
        assert r.status_code == 403
        form = b.get("/console/signin")
        bad = b.post("/console/signin", data={"csrf": csrf_of(form.text), "token": "ims_no_no"})
        assert bad.status_code == 401 and "not valid" in bad.text


def test_the_session_cookie_is_http_only_strict_and_expires(
    control: ControlService, secret: str
) -> None:
    with browser(control) as b:
        form = b.get("/console/signin")
        r = b.post("/console/signin", data={"csrf": csrf_of(form.text), "token": control.admin})
        assert r.status_code == 303
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("im_console="))
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
        assert {"httponly", "max-age", "path"} <= attrs
        assert "samesite=strict" in cookie.lower()
        value = cookie.split(";")[0].split("=", 1)[1]
        assert control.admin not in cookie and len(value) >= 40  # opaque


def test_csp_and_the_other_headers_on_every_page_and_no_inline_script(
    control: ControlService, secret: str
) -> None:
    with browser(control) as b:
        sign_in(b, control.admin)
        for path in (
            "/console/signin",
            f"{C}/integrations",
            f"{C}/integrations/snow-web",
            f"{C}/integrations/snow-web/dlq",
            f"{C}/conflicts",
            f"{C}/timeline",
            "/console/static/console.css",
        ):
            r = b.get(path)
            assert r.status_code == 200, (path, r.text)
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert r.headers["x-frame-options"] == "DENY"
            assert "<script" not in r.text and " on" + "click=" not in r.text


def test_no_secret_in_any_page(control: ControlService, secret: str) -> None:
    with browser(control) as b:
        csrf = sign_in(b, control.admin)
        pages = [
            b.get(f"{C}/integrations"),
            b.get(f"{C}/integrations/snow-web"),
            b.get(f"{C}/integrations/snow-web/dlq"),
            b.post(f"{C}/integrations/snow-web/test", data={"csrf": csrf}),
        ]
        assert all(p.status_code == 200 for p in pages)
        shown = pages[1].text
        assert "snow-web" in shown and "password" in shown and "&#34;set&#34;" in shown
        assert "Connection test: failed" in pages[3].text
        for page in pages:
            assert secret not in page.text


def test_a_write_without_the_csrf_token_is_403_and_changes_nothing(
    control: ControlService, secret: str
) -> None:
    with browser(control) as b, control.client(control.admin) as admin:
        csrf = sign_in(b, control.admin)
        for data in ({}, {"csrf": "forged"}, {"csrf": csrf[:-1]}):
            r = b.post(f"{C}/integrations/snow-web/pause", data=data)
            assert r.status_code == 403 and "CSRF" in r.text
        assert admin.get(f"{API}/integrations/snow-web").json()["paused"] is False
        # With it: paused, then resumed, through the API's own handlers.
        r = b.post(f"{C}/integrations/snow-web/pause", data={"csrf": csrf})
        assert r.status_code == 303
        assert admin.get(f"{API}/integrations/snow-web").json()["paused"] is True
        page = b.get(f"{C}/integrations/snow-web").text
        assert "paused" in page and "/resume" in page
        assert b.post(f"{C}/integrations/snow-web/resume", data={"csrf": csrf}).status_code == 303
        assert admin.get(f"{API}/integrations/snow-web").json()["paused"] is False
        # Another session's token is not this one's.
        with browser(control) as other:
            other_csrf = sign_in(other, control.admin)
        assert (
            b.post(f"{C}/integrations/snow-web/pause", data={"csrf": other_csrf}).status_code == 403
        )


def test_a_viewer_sees_no_write_control_and_a_forged_write_is_403(
    control: ControlService, secret: str
) -> None:
    viewer = control.token("viewer", name="console-viewer", tenants=[TENANT])
    with browser(control) as b, control.client(control.admin) as admin:
        csrf = sign_in(b, viewer)
        listed = b.get(f"{C}/integrations")
        assert listed.status_code == 200 and "snow-web" in listed.text
        one = b.get(f"{C}/integrations/snow-web")
        assert one.status_code == 200 and "running" in one.text
        for page in (listed, one):
            # the only form is signing out
            assert page.text.count('method="post"') == 1 and "/signout" in page.text
            assert secret not in page.text
        assert "Configuration" not in one.text  # integration.read is not a viewer's
        # nor links to the pages the policy refuses them
        assert "/conflicts" not in one.text and "/quarantine" not in one.text
        r = b.post(f"{C}/integrations/snow-web/pause", data={"csrf": csrf})
        assert r.status_code == 403 and "CSRF" not in r.text
        assert admin.get(f"{API}/integrations/snow-web").json()["paused"] is False
        conflicts = b.get(f"{C}/conflicts")
        assert conflicts.status_code == 403  # conflict.list is not a viewer's either


def test_sign_out_and_revocation_end_the_session(control: ControlService, secret: str) -> None:
    manager = control.token("integration.manager", name="console-manager", tenants=[TENANT])
    with browser(control) as b, browser(control) as c, control.client(control.admin) as admin:
        csrf = sign_in(b, control.admin)
        assert b.post("/console/signout", data={"csrf": csrf}).status_code == 303
        assert b.get(f"{C}/integrations").status_code == 303
        sign_in(c, manager)
        assert c.get(f"{C}/integrations").status_code == 200
        token_id = manager.split("_")[1]
        assert admin.delete(f"/api/v1/tokens/{token_id}").status_code == 200
        assert c.get(f"{C}/integrations").status_code == 303  # back to sign-in
