"""The console's routes. Every page and form calls the control API's own route handlers
through `invoke`: the same policy decision (`routing.authorize`), the same code, the same
views (secrets are never in them). A form is accepted only with the session's CSRF token;
every answer under /console carries a Content-Security-Policy with no inline script.

Pages work without JavaScript (there is none): forms post and the answer redirects (303) or
renders the outcome."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import jinja2
import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from incident_sync.control.api import conflicts as conf
from incident_sync.control.api import dlq
from incident_sync.control.api import reconcile as rec
from incident_sync.control.api import timeline as tl
from incident_sync.control.api.context import Services
from incident_sync.control.api.errors import ApiError, invalid
from incident_sync.control.api.models import ConflictQuery, ConflictResolve
from incident_sync.control.api.quarantine import QuarantineQuery, QuarantineRetryAll
from incident_sync.control.api.routing import (
    API,
    Call,
    Route,
    authorize,
    check_params,
    policy_input,
)
from incident_sync.control.auth import Subject
from incident_sync.control.console.session import Session, Sessions

PREFIX: Final = "/console"
# The API routes the console calls (as the route table names them).
T: Final = f"{API}/tenants/{{tenant}}"
I: Final = f"{T}/integrations/{{name}}"  # noqa: E741
COOKIE: Final = "im_console"
# Before sign-in there is no session: the sign-in form's CSRF token is a cookie of its own,
# matched against the form's (double submit).
SIGNIN_COOKIE: Final = "im_console_signin"
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HERE: Final = Path(__file__).parent
SESSIONS: Final = web.AppKey("console_sessions", Sessions)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)


def _route(services: Services, method: str, path: str) -> Route:
    return next(r for r in services.routes if r.method == method and r.path == path)


async def invoke(
    services: Services,
    request: web.Request,
    subject: Subject,
    method: str,
    path: str,
    params: Mapping[str, str],
    *,
    body: BaseModel | None = None,
    query: BaseModel | None = None,
) -> Any:
    """The JSON answer of the API route `method path` for `params`, as the API would give
    it to this subject: the policy decides first (ApiError 403 when it refuses)."""
    route = _route(services, method, path)
    await authorize(route, services, subject, params, request)
    response = await route.handler(Call(request, subject, dict(params), body, query, services))
    assert isinstance(response, web.Response) and response.body is not None
    return orjson.loads(response.body)  # type: ignore[arg-type]


class Page:
    """One request's console context: its session, and what the subject may do."""

    def __init__(self, request: web.Request, services: Services, session: Session) -> None:
        self.request = request
        self.services = services
        self.session = session

    @property
    def subject(self) -> Subject:
        return self.session.subject

    def may(self, action: str, **resource: Any) -> bool:
        decision = self.services.policy.decide(
            policy_input(self.subject, action, resource, self.request)
        )
        return decision.allow

    async def call(self, method: str, path: str, params: Mapping[str, str], **kw: Any) -> Any:
        return await invoke(self.services, self.request, self.subject, method, path, params, **kw)

    async def maybe(self, method: str, path: str, params: Mapping[str, str], **kw: Any) -> Any:
        """As `call`, or None where the policy refuses this subject."""
        try:
            return await self.call(method, path, params, **kw)
        except ApiError as exc:
            if exc.status == 403:
                return None
            raise

    def render(self, template: str, *, http_status: int = 200, **context: Any) -> web.Response:
        return render(template, http_status=http_status, session=self.session, page=self, **context)


def render(template: str, *, http_status: int = 200, **context: Any) -> web.Response:
    context.setdefault("session", None)
    context.setdefault("page", None)
    html = _env.get_template(template).render(prefix=PREFIX, **context)
    return web.Response(text=html, status=http_status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _error(exc: ApiError, session: Session | None) -> web.Response:
    return render("error.html", http_status=exc.status, session=session, error=exc)


PageHandler = Callable[[Page], Awaitable[web.StreamResponse]]


def page(
    services: Services, handler: PageHandler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page or form of the console: a GET without a session goes to sign-in; a POST needs
    a session and its CSRF token (403 otherwise); an API refusal renders as an error page
    with the API's status."""

    async def run(request: web.Request) -> web.StreamResponse:
        sessions = request.app[SESSIONS]
        session = await sessions.get(request.cookies.get(COOKIE))
        if request.method == "POST":
            form = await request.post()
            if session is None or not session.csrf_ok(_one(form, "csrf")):
                return _error(ApiError(403, "forbidden", "missing or wrong CSRF token"), session)
        elif session is None:
            return redirect(f"{PREFIX}/signin")
        try:
            check_params(dict(request.match_info), request, [])
            return await handler(Page(request, services, session))
        except ApiError as exc:
            return _error(exc, session)
        except ValidationError as exc:  # a form's values: 422 naming each, as the API does
            return _error(invalid(exc), session)

    return run


def _one(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


# -- sign-in -----------------------------------------------------------------------------------
def _cookie_args(services: Services) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "Strict",
        "secure": services.settings.console_secure_cookie,
        "path": PREFIX,
    }


def signin_form(services: Services) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        return _signin_page(services, None, 200)

    return run


def _signin_page(services: Services, error: str | None, status: int) -> web.Response:
    csrf = secrets.token_urlsafe(32)
    response = render("signin.html", http_status=status, csrf=csrf, error=error)
    response.set_cookie(SIGNIN_COOKIE, csrf, max_age=3600, **_cookie_args(services))
    return response


def signin(services: Services) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given, expected = _one(form, "csrf"), request.cookies.get(SIGNIN_COOKIE)
        # bytes: compare_digest refuses a str that is not ASCII (a 500, not a 403)
        if (
            not given
            or not expected
            or not secrets.compare_digest(given.encode(), expected.encode())
        ):
            return _error(ApiError(403, "forbidden", "missing or wrong CSRF token"), None)
        token = (_one(form, "token") or "").strip()
        made = await request.app[SESSIONS].create(token) if token else None
        if made is None:
            return _signin_page(services, "That token is not valid (revoked or unknown).", 401)
        session_id, _ = made
        response = redirect(f"{PREFIX}/")
        ttl = services.settings.console_session_ttl_s
        response.set_cookie(COOKIE, session_id, max_age=ttl, **_cookie_args(services))
        response.del_cookie(SIGNIN_COOKIE, path=PREFIX)
        return response

    return run


async def signout(p: Page) -> web.StreamResponse:
    await p.request.app[SESSIONS].drop(p.request.cookies.get(COOKIE))
    response = redirect(f"{PREFIX}/signin")
    response.del_cookie(COOKIE, path=PREFIX)
    return response


# -- pages -------------------------------------------------------------------------------------
async def home(p: Page) -> web.StreamResponse:
    tenants = [t for t in await p.services.store.tenants() if p.may("status.list", tenant=t)]
    if len(tenants) == 1:
        return redirect(f"{PREFIX}/t/{tenants[0]}/integrations")
    return p.render("home.html", tenants=tenants)


def _params(p: Page) -> dict[str, str]:
    return dict(p.request.match_info)


async def integrations(p: Page) -> web.StreamResponse:
    params = _params(p)
    tenant = params["tenant"]
    status = await p.call("GET", f"{T}/status", params)
    rows = []
    for item in status["items"]:
        one = {"tenant": tenant, "name": item["name"]}
        dead = await p.maybe("GET", f"{I}/dlq", one, query=dlq.DlqQuery(limit=1))
        rows.append({**item, "dlq_depth": None if dead is None else dead["depth"]})
    quarantine = await p.maybe("GET", f"{T}/quarantine", params, query=QuarantineQuery(limit=1))
    return p.render(
        "integrations.html",
        tenant=tenant,
        rows=rows,
        quarantine_depth=None if quarantine is None else quarantine["depth"],
    )


async def integration(p: Page, test: dict[str, Any] | None = None) -> web.StreamResponse:
    params = _params(p)
    tenant, name = params["tenant"], params["name"]
    one = {"tenant": tenant, "name": name}
    status = await p.call("GET", f"{I}/status", one)
    view = await p.maybe("GET", I, one)
    rules = await p.maybe("GET", f"{I}/ownership", one)
    dead = await p.maybe("GET", f"{I}/dlq", one, query=dlq.DlqQuery(limit=1))
    resource = {"tenant": tenant, "integration": name}
    return p.render(
        "integration.html",
        tenant=tenant,
        name=name,
        status=status,
        view=view,
        config=orjson.dumps(view, option=orjson.OPT_INDENT_2).decode() if view else None,
        rules=rules,
        dlq_depth=None if dead is None else dead["depth"],
        test=test,
        can_pause=p.may("integration.pause", **resource),
        can_resume=p.may("integration.resume", **resource),
        can_test=p.may("integration.test", **resource),
    )


async def pause(p: Page) -> web.StreamResponse:
    await p.call("POST", f"{I}/pause", _params(p))
    return redirect(_integration_url(p))


async def resume(p: Page) -> web.StreamResponse:
    await p.call("POST", f"{I}/resume", _params(p))
    return redirect(_integration_url(p))


async def connection_test(p: Page) -> web.StreamResponse:
    result = await p.call("POST", f"{I}/test", _params(p))
    return await integration(p, test=result)


def _integration_url(p: Page) -> str:
    params = _params(p)
    return f"{PREFIX}/t/{params['tenant']}/integrations/{params['name']}"


async def conflicts(p: Page) -> web.StreamResponse:
    params = _params(p)
    wanted = p.request.query.get("status", "pending")
    status = wanted if wanted in ("pending", "resolved") else None
    listed = await p.call(
        "GET", f"{T}/conflicts", params, query=ConflictQuery.model_validate({"status": status})
    )
    items = [
        {**c, "can_resolve": c["status"] == "pending" and await _may_resolve(p, c)}
        for c in listed["items"]
    ]
    return p.render("conflicts.html", tenant=params["tenant"], items=items, status=status)


async def _may_resolve(p: Page, conflict: Mapping[str, Any]) -> bool:
    params = {"tenant": conflict["tenant"], "conflict_id": conflict["id"]}
    resource = {"tenant": conflict["tenant"], "conflict": conflict["id"]}
    resource.update(await conf.conflict_resource(p.services, params))
    return p.may("conflict.resolve", **resource)


async def resolve(p: Page) -> web.StreamResponse:
    form = await p.request.post()
    body = ConflictResolve.model_validate({"resolution": _one(form, "resolution")})
    await p.call("POST", f"{T}/conflicts/{{conflict_id}}/resolve", _params(p), body=body)
    return redirect(f"{PREFIX}/t/{_params(p)['tenant']}/conflicts")


async def dead_letters(p: Page, outcome: dict[str, Any] | None = None) -> web.StreamResponse:
    params = _params(p)
    contains = p.request.query.get("contains") or None
    listed = await p.call(
        "GET", f"{I}/dlq", params, query=dlq.DlqQuery.model_validate({"contains": contains})
    )
    resource = {"tenant": params["tenant"], "integration": params["name"]}
    return p.render(
        "dlq.html",
        tenant=params["tenant"],
        name=params["name"],
        listed=listed,
        contains=contains or "",
        outcome=outcome,
        can_retry=p.may("dlq.retry", **resource),
        can_discard=p.may("dlq.discard", **resource),
    )


def _dlq_url(p: Page) -> str:
    return _integration_url(p) + "/dlq"


async def dlq_retry(p: Page) -> web.StreamResponse:
    await p.call("POST", f"{I}/dlq/{{entry_id}}/retry", _params(p))
    return redirect(_dlq_url(p))


async def dlq_discard(p: Page) -> web.StreamResponse:
    await p.call("DELETE", f"{I}/dlq/{{entry_id}}", _params(p))
    return redirect(_dlq_url(p))


async def dlq_retry_all(p: Page) -> web.StreamResponse:
    form = await p.request.post()
    body = dlq.DlqRetryAll.model_validate(
        {"contains": _one(form, "contains") or None, "dry_run": _one(form, "dry_run") == "on"}
    )
    outcome = await p.call("POST", f"{I}/dlq/retry", _params(p), body=body)
    return await dead_letters(p, outcome=outcome)


async def quarantine(p: Page, outcome: dict[str, Any] | None = None) -> web.StreamResponse:
    params = _params(p)
    contains = p.request.query.get("contains") or None
    listed = await p.call(
        "GET",
        f"{T}/quarantine",
        params,
        query=QuarantineQuery.model_validate({"contains": contains}),
    )
    tenant = params["tenant"]
    items = [
        {
            **e,
            "can_retry": p.may("quarantine.retry", tenant=tenant, quarantine_entry=e["id"],
                               integration=e["integration_id"]),
            "can_discard": p.may("quarantine.discard", tenant=tenant, quarantine_entry=e["id"],
                                 integration=e["integration_id"]),
        }
        for e in listed["items"]
    ]  # fmt: skip
    return p.render(
        "quarantine.html",
        tenant=tenant,
        listed=listed,
        items=items,
        contains=contains or "",
        outcome=outcome,
        can_retry_all=p.may("quarantine.retry", tenant=tenant),
    )


def _quarantine_url(p: Page) -> str:
    return f"{PREFIX}/t/{_params(p)['tenant']}/quarantine"


async def quarantine_retry(p: Page) -> web.StreamResponse:
    await p.call("POST", f"{T}/quarantine/{{quarantine_id}}/retry", _params(p))
    return redirect(_quarantine_url(p))


async def quarantine_discard(p: Page) -> web.StreamResponse:
    await p.call("DELETE", f"{T}/quarantine/{{quarantine_id}}", _params(p))
    return redirect(_quarantine_url(p))


async def quarantine_retry_all(p: Page) -> web.StreamResponse:
    form = await p.request.post()
    body = QuarantineRetryAll.model_validate(
        {"contains": _one(form, "contains") or None, "dry_run": _one(form, "dry_run") == "on"}
    )
    outcome = await p.call("POST", f"{T}/quarantine/retry", _params(p), body=body)
    return await quarantine(p, outcome=outcome)


async def reconcile(p: Page) -> web.StreamResponse:
    params = _params(p)
    runs = await p.call("GET", f"{I}/reconcile/runs", params, query=rec.HistoryQuery())
    resource = {"tenant": params["tenant"], "integration": params["name"]}
    return p.render(
        "reconcile.html",
        tenant=params["tenant"],
        name=params["name"],
        runs=runs["items"],
        can_run=p.may("reconcile.run", **resource),
    )


async def reconcile_run(p: Page) -> web.StreamResponse:
    form = await p.request.post()
    body = rec.ReconcileRequest.model_validate({"mode": _one(form, "mode")})
    await p.call("POST", f"{I}/reconcile", _params(p), body=body)
    return redirect(_integration_url(p) + "/reconcile")


async def timeline(p: Page) -> web.StreamResponse:
    params = _params(p)
    ref = (p.request.query.get("ref") or "").strip()
    found = None
    if ref:
        try:
            found = await p.call(
                "GET",
                f"{T}/incidents/{{ref}}/timeline",
                {**params, "ref": ref},
                query=tl.TimelineQuery(),
            )
        except ApiError as exc:
            if exc.status != 403:
                raise
            # An incident commander has the page but reads only the incidents they lead:
            # say so on the page, with the form to try another reference.
            return p.render(
                "timeline.html",
                http_status=403,
                tenant=params["tenant"],
                ref=ref,
                found=None,
                refused=True,
                commander=p.subject.role == "incident_commander",
                quote=quote,
            )
    return p.render(
        "timeline.html",
        tenant=params["tenant"],
        ref=ref,
        found=found,
        refused=False,
        commander=False,
        quote=quote,
    )


def add_console(app: web.Application, services: Services) -> None:
    """Mount the console on the control service's app, under /console."""
    app[SESSIONS] = Sessions(
        services.redis, services.tokens, services.settings.console_session_ttl_s
    )
    app.on_response_prepare.append(_headers)
    t = f"{PREFIX}/t/{{tenant}}"
    i = f"{t}/integrations/{{name}}"
    add = app.router.add_route
    add("GET", f"{PREFIX}/signin", signin_form(services))
    add("POST", f"{PREFIX}/signin", signin(services))
    app.router.add_static(f"{PREFIX}/static", HERE / "static")
    for method, path, handler in [
        ("POST", f"{PREFIX}/signout", signout),
        ("GET", f"{PREFIX}/", home),
        ("GET", f"{t}/integrations", integrations),
        ("GET", i, integration),
        ("POST", f"{i}/pause", pause),
        ("POST", f"{i}/resume", resume),
        ("POST", f"{i}/test", connection_test),
        ("GET", f"{i}/dlq", dead_letters),
        ("POST", f"{i}/dlq/retry", dlq_retry_all),
        ("POST", f"{i}/dlq/{{entry_id}}/retry", dlq_retry),
        ("POST", f"{i}/dlq/{{entry_id}}/discard", dlq_discard),
        ("GET", f"{i}/reconcile", reconcile),
        ("POST", f"{i}/reconcile", reconcile_run),
        ("GET", f"{t}/quarantine", quarantine),
        ("POST", f"{t}/quarantine/retry", quarantine_retry_all),
        ("POST", f"{t}/quarantine/{{quarantine_id}}/retry", quarantine_retry),
        ("POST", f"{t}/quarantine/{{quarantine_id}}/discard", quarantine_discard),
        ("GET", f"{t}/conflicts", conflicts),
        ("POST", f"{t}/conflicts/{{conflict_id}}/resolve", resolve),
        ("GET", f"{t}/timeline", timeline),
    ]:
        add(method, path, page(services, handler))
    add("GET", PREFIX, _root)


async def _root(request: web.Request) -> web.StreamResponse:
    return redirect(f"{PREFIX}/")


__all__ = ["add_console", "invoke"]
