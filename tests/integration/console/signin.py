"""Signing in to the console the way a browser does (for the httpx tests)."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found[1]


def sign_in(client: httpx.Client, token: str) -> str:
    """Sign `client` in with `token`; the session's CSRF token."""
    form = client.get("/console/signin")
    assert form.status_code == 200
    done = client.post("/console/signin", data={"csrf": csrf_of(form.text), "token": token})
    assert done.status_code == 303, done.text
    page = client.get("/console/", follow_redirects=True)
    assert page.status_code == 200
    return csrf_of(page.text)
