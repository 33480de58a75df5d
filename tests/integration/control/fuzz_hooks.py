"""Schemathesis hooks for `test_openapi_fuzz.py`, loaded by the `st` process it runs
(`SCHEMATHESIS_HOOKS`). Configured through the environment:

- `FUZZ_KNOWN`: path parameters that exist (JSON); half the generated cases address them, so
  the handlers behind the lookups run, not only the 404s;
- `FUZZ_URL`, `FUZZ_TOKEN`: where to put the known integration back (the run deletes and
  changes things at random) before a case that addresses it, with `FUZZ_TOOL` (its tool's
  address) and `FUZZ_PASSWORD`;
- `FUZZ_STATUSES`: a file that gets one line `<operation> <status>` per answer.

Before a case of the fields routes, an existing side it names is pointed at `FUZZ_TOOL`;
before a case of the links route, the tenant's platform and the integration both are.

And one check of the project's own on top of schemathesis's: every 4xx is `{"error", "reason"}`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import httpx
import orjson
import schemathesis
from hypothesis import strategies as st

KNOWN: dict[str, str] = orjson.loads(os.environ.get("FUZZ_KNOWN", "{}"))
_lock = threading.Lock()


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    if not path_parameters:
        return st.just(path_parameters)
    known = {**path_parameters, **{k: v for k, v in KNOWN.items() if k in path_parameters}}
    return st.sampled_from([path_parameters, known])


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if case.operation.path.endswith(("/fields", "/links", "/sync/{record_id}")):
        # Best effort, as below: the case's own answer is what is checked.
        with contextlib.suppress(httpx.HTTPError):
            _fields_ask_the_stub(case)
    params = case.path_parameters or {}
    if params.get("tenant") == KNOWN.get("tenant") and params.get("name") == KNOWN.get("name"):
        # Best effort: a case that deleted or renamed things may stand in the way (its answer
        # is what is checked, not this).
        httpx.put(
            f"{os.environ['FUZZ_URL']}/api/v1/tenants/{KNOWN['tenant']}/integrations/"
            f"{KNOWN['name']}",
            json={
                "type": "servicenow",
                "base_url": os.environ["FUZZ_TOOL"],
                "username": "u",
                # given again: the address may have been moved meanwhile
                "password": os.environ["FUZZ_PASSWORD"],
                "api_key": None,
                "oauth_client_secret": None,
                "webhook_secret": None,
            },
            headers={"Authorization": f"Bearer {os.environ['FUZZ_TOKEN']}"},
            timeout=5,
        )


def _admin(method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{os.environ['FUZZ_URL']}/api/v1/tenants/{path}",
        headers={"Authorization": f"Bearer {os.environ['FUZZ_TOKEN']}"},
        timeout=5,
        **kw,
    )


def _fields_ask_the_stub(case: Any) -> None:
    """A fields case asks the side's tool: an existing side the run made (at an address
    nothing listens on, or without credentials) is pointed at the stub tool first, so the
    handler's answer is checked, not the designed 502 of a tool that cannot be reached (a
    5xx is a server error to schemathesis). A side that does not exist is left so (404)."""
    params = case.path_parameters or {}
    tenant, name = str(params.get("tenant", "/")), str(params.get("name", "/"))
    stub = os.environ["FUZZ_TOOL"]
    if "/" in tenant:
        return
    links = case.operation.path.endswith("/links")  # asks the platform and the integration
    if links or case.operation.path.endswith("/platform/fields"):
        found = _admin("GET", f"{tenant}/platform")
        if found.status_code == 200:
            # Every credential sent given again: moving it to another address keeps none.
            side = {"name": found.json()["name"], "type": "incidentio", "base_url": stub}
            secrets = {"api_key": "fuzz-key", "password": None, "oauth_client_secret": None}
            _admin("PUT", f"{tenant}/platform", json={**side, **secrets})
        if not links:
            return
    known = (name, tenant) == (KNOWN.get("name"), KNOWN.get("tenant"))  # put back below
    path = f"{tenant}/integrations/{name}"
    if known or "/" in name or _admin("GET", path).status_code != 200:
        return
    side = {"type": "servicenow", "base_url": stub, "username": "u"}
    secrets = {"password": os.environ["FUZZ_PASSWORD"], "api_key": None,
               "oauth_client_secret": None}  # fmt: skip
    _admin("PUT", path, json={**side, **secrets})


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    path = os.environ.get("FUZZ_STATUSES")
    if path:
        with _lock, open(path, "a") as out:
            out.write(
                f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n"
            )


@schemathesis.check
def json_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer is the API's error shape: `{"error": <code>, "reason": <text>}`."""
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"{response.status_code} without a JSON body") from None
        if not isinstance(body, dict) or set(body) != {"error", "reason"}:
            raise AssertionError(f"{response.status_code} body is not {{error, reason}}: {body}")
        if not body["error"] or not body["reason"]:
            raise AssertionError(f"{response.status_code} with an empty error or reason")
    return None
