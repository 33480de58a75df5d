"""Route tables whose handlers answer with a refusal by raising it.

A sandbox's handler checks the same things again and again (the record the path names, a
JSON object as the body, the tool's own errors from its store) and answers each failure in
the tool's own shape. `Routes` lets it raise instead: `Refusal(response)` is answered with
`response`; an error type registered with `Routes.answering(error, answer)` with
`answer(exc)`. `sandbox.base.found` and `sandbox.base.object_body` raise the refusal the
caller names.

The answer is made around the handler itself, not in a middleware, so every middleware
(faults, auth, rate-limit headers) sees the refusal as the response it always was.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractView

E = TypeVar("E", bound=Exception)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Deco = Callable[[Any], Any]


class Refusal(Exception):
    """The answer to a request, raised from inside a handler of a `Routes` table."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__(response.status)
        self.response = response


class Routes(web.RouteTableDef):
    """A `web.RouteTableDef` whose function handlers may raise `Refusal`, or an error type
    registered with `answering`; each is answered as its refusal says. Class-based views
    are registered unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self._answers: list[tuple[type[Exception], Callable[[Any], web.StreamResponse]]] = []

    def answering(self, error: type[E], answer: Callable[[E], web.StreamResponse]) -> Routes:
        """This table, answering an `error` its handlers raise with `answer(exc)`."""
        self._answers.append((error, answer))
        return self

    def route(self, method: str, path: str, **kwargs: Any) -> Deco:
        register = super().route(method, path, **kwargs)

        def inner(handler: Any) -> Any:
            is_view = inspect.isclass(handler) and issubclass(handler, AbstractView)
            register(handler if is_view else self._answered(handler))
            return handler  # unwrapped, so that it can be stacked under another route

        return inner

    def _answered(self, handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def answered(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except Refusal as refusal:
                return refusal.response
            except Exception as exc:
                for error, answer in self._answers:
                    if isinstance(exc, error):
                        return answer(exc)
                raise

        return answered
