"""A real HTTP server in the test process that records every request it receives: a host
that must never see a credential (standing in for an attacker's), or a bare tool API.

It answers every request 200, by default with `{"result": []}` (an empty ServiceNow Table API
answer), so a client that reaches it goes on as far as it would with the real tool."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """The whole request as text, a Basic credential decoded (its password in clear)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        for name, value in self.headers.items():
            scheme, _, blob = value.partition(" ")
            if name.lower() == "authorization" and scheme.lower() == "basic":
                head += "\n" + base64.b64decode(blob + "==").decode(errors="replace")
        return f"{self.method} {self.path}\n{head}\n\n{self.body.decode(errors='replace')}"


@dataclass
class Host:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def credentials(self, secrets: Iterable[str] = ()) -> list[str]:
        """The requests that carried credentials: an Authorization header (or a tool's own
        key header) or any of `secrets` anywhere; with `secrets`, only those carrying one of
        them (a Basic credential decoded)."""
        wanted = [s for s in secrets if s]
        out = []
        for r in self.seen():
            if wanted:
                hit = any(s in r.text() for s in wanted)
            else:
                names = {k.lower() for k in r.headers}
                hit = bool(names & {"authorization", "dd-api-key", "dd-application-key"})
            if hit:
                out.append(f"{r.method} {r.path}")
        return out


# What the host answers a request (method, path): a JSON body, with 200.
Answer = Callable[[str, str], bytes]


def _empty(method: str, path: str) -> bytes:
    return b'{"result": []}'


@contextmanager
def recording_host(answer: Answer = _empty) -> Iterator[Host]:
    host = Host()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host.record(Request(self.command, self.path, dict(self.headers.items()), body))
            payload = answer(self.command, self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
