"""What every sandbox shares: its aiohttp application (`sandbox_app`), the test-control
routes under `/_sandbox/` that drive it (`control_routes`: stats, faults, reset), and the
JSON bodies and refusals of its routes (`found`, `object_body`: see `sandbox.routes`). A
sandbox supplies its own API routes and its `Controls`: the counts of its store and how to
empty it (`store_controls`, `counter_controls`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from incident_sync.sandbox.faults import ApiFaults, set_api_faults_from
from incident_sync.sandbox.routes import Refusal, Routes
from incident_sync.sandbox.webhook_sender import (
    WebhookSender,
    release_after_response,
    set_faults_from,
)

JSON = dict[str, Any]
S = TypeVar("S")
R = TypeVar("R")


def bad(message: str, status: int = 400) -> web.Response:
    """A control route's refusal: `{"error": message}`."""
    return web.json_response({"error": message}, status=status)


async def json_body(request: web.Request) -> JSON | None:
    """The request's JSON object (an empty body is `{}`), or None when it is not one."""
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def found(record: R | None, missing: Callable[[], web.StreamResponse]) -> R:
    """`record`, or else a `Refusal` answered with `missing()` (in a `Routes` handler)."""
    if record is None:
        raise Refusal(missing())
    return record


async def object_body(request: web.Request, refusal: Callable[[], web.StreamResponse]) -> JSON:
    """The request's JSON object (`json_body`), or else a `Refusal` answered with `refusal()`."""
    return found(await json_body(request), refusal)


@dataclass(frozen=True)
class Controls:
    """The parts of a sandbox the shared control routes drive."""

    counts: Callable[[], JSON]  # its store's: api_writes, api_write_log, records
    reset: Callable[[], None]  # empties its store (the sender and the faults are reset here)
    sender: WebhookSender | None  # None: the tool sends no webhooks (Slack)
    faults: ApiFaults | None  # None: faults of its API are set elsewhere, or not at all


class Store(Protocol):
    """A sandbox's store as the control routes see it: its API writes and how to empty it."""

    @property
    def api_writes(self) -> Mapping[str, int]: ...  # record -> writes through the tool's API

    @property
    def api_write_log(self) -> Sequence[JSON]: ...  # every API write, in order

    def reset(self) -> None: ...


def store_controls(
    store: Store,
    records: tuple[str, Callable[[], int]],
    sender: WebhookSender | None,
    faults: ApiFaults | None,
    reset: Callable[[], None] | None = None,
) -> Controls:
    """The `Controls` of a sandbox with a `Store`: its writes, its records counted under
    the name `records[0]`, and `reset` (the store's own by default)."""
    name, count = records
    return Controls(
        counts=lambda: {
            "api_writes": dict(store.api_writes),
            "api_write_log": store.api_write_log,
            name: count(),
        },
        reset=reset or store.reset,
        sender=sender,
        faults=faults,
    )


async def record_and_body(request: web.Request, record: R | None, what: str) -> tuple[R, JSON]:
    """`record` and the request's JSON object, or else a `Refusal` of a UI route saying
    `no such <what>, or the body is not a JSON object`: 404 without the record, else 400."""
    refusal = f"no such {what}, or the body is not a JSON object"
    body = await json_body(request)
    return found(record, lambda: bad(refusal, 404)), found(body, lambda: bad(refusal))


def counter_controls(
    api_writes: Counter[str],
    records: tuple[str, MutableMapping[Any, Any]],
    sender: WebhookSender | None,
    faults: ApiFaults | None,
) -> Controls:
    """The `Controls` of a sandbox that counts its API writes per record in `api_writes` and
    keeps its records in `records[1]`, counted under the name `records[0]`; reset empties both."""
    name, held = records

    def reset() -> None:
        held.clear()
        api_writes.clear()

    return Controls(
        counts=lambda: {"api_writes": dict(api_writes), name: len(held)},
        reset=reset,
        sender=sender,
        faults=faults,
    )


class StoreSandbox(Protocol):
    """A sandbox's state with a `Store` and the sender of its webhooks."""

    @property
    def store(self) -> Store: ...

    @property
    def sender(self) -> WebhookSender: ...


T = TypeVar("T", bound=StoreSandbox)


def store_control_routes(
    key: web.AppKey[T],
    records: tuple[str, Callable[[T], int]],
    faults: Callable[[T], ApiFaults | None] = lambda _: None,
    reset: Callable[[T], None] | None = None,
) -> Routes:
    """`control_routes` of a sandbox whose state (under `key`) has a `Store` and a sender
    (`store_controls`): its records counted by `records[1](state)` under `records[0]`, the
    faults of its API `faults(state)` (None by default: set elsewhere) and `reset(state)`
    (by default the store's own)."""
    name, count = records

    def controls(state: T) -> Controls:
        emptied = (lambda: reset(state)) if reset is not None else None
        return store_controls(
            state.store, (name, lambda: count(state)), state.sender, faults(state), emptied
        )

    return control_routes(key, controls)


def control_routes(key: web.AppKey[S], controls: Callable[[S], Controls]) -> Routes:
    """`GET /_sandbox/stats`, `POST /_sandbox/faults` (`{"drop_webhooks": 0.5}`,
    `{"fail_status": 429, "fail_count": 2, "retry_after_s": 1}`, ...) and
    `POST /_sandbox/reset`, for the sandbox whose state is under `key` and whose `Controls`
    are `controls(state)`; a `Routes` table, to which the sandbox adds its own UI routes."""
    routes = Routes()

    def controls_of(app: web.Application) -> Controls:
        return controls(app[key])

    @routes.get("/_sandbox/stats")
    async def stats(request: web.Request) -> web.Response:
        controls = controls_of(request.app)
        body = controls.counts()
        if controls.sender is not None:
            body.update(controls.sender.stats())
        else:  # sends nothing back
            body.update(webhooks_pending=0, webhooks_sent=0)
        if controls.faults is not None:
            body.update(controls.faults.stats())
        return web.json_response(body)

    @routes.post("/_sandbox/faults")
    async def faults(request: web.Request) -> web.Response:
        controls = controls_of(request.app)
        if controls.faults is not None:
            try:
                await set_api_faults_from(request, controls.faults)
            except (ValueError, TypeError) as exc:
                return bad(str(exc))
        if controls.sender is not None:
            return await set_faults_from(request, controls.sender)
        return web.json_response(controls.faults.stats() if controls.faults else {})

    @routes.post("/_sandbox/reset")
    async def reset(request: web.Request) -> web.Response:
        controls = controls_of(request.app)
        controls.reset()
        if controls.sender is not None:
            controls.sender.reset()
        if controls.faults is not None:
            controls.faults.set(0, 0)
        return web.json_response({"ok": True})

    return routes


def sandbox_app(
    key: web.AppKey[S],
    state: S,
    *,
    sender: WebhookSender | None,
    middlewares: Iterable[Middleware],
    routes: Sequence[web.RouteTableDef],
    client_max_size: int = 1024**2,
) -> web.Application:
    """The application of one sandbox: `state` under `key`; the webhooks of a request sent
    only once its response has gone (`release_after_response`, first), then `middlewares`;
    `routes`; and `sender` started and stopped with the application. `client_max_size` is
    the largest request body the tool takes (aiohttp's 1 MiB by default)."""
    first = [release_after_response] if sender is not None else []
    app = web.Application(middlewares=[*first, *middlewares], client_max_size=client_max_size)
    app[key] = state
    for table in routes:
        app.add_routes(table)
    if sender is not None:
        webhooks = sender

        async def sender_lifecycle(_: web.Application) -> AsyncIterator[None]:
            await webhooks.start()
            yield
            await webhooks.stop()

        app.cleanup_ctx.append(sender_lifecycle)
    return app
