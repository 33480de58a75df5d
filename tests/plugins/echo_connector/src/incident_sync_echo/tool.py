"""The Echo tool: a tiny record store over HTTP that sends a signed webhook for every change.

    python -m incident_sync_echo.tool --port 9000 --user sync:TOKEN --user alice:TOKEN2 \
        --webhook-url http://127.0.0.1:8080/webhooks/prod-echo --webhook-secret SECRET

API (bearer tokens name the users): `GET /api/records?incident_id=ID`, `GET /api/records/ID`,
`POST /api/records` {incident_id, label, title, description, status}, `PATCH /api/records/ID`
{title?, description?, status?}. Each record has a `version` counting its changes and
`updated_by`. Every create and every update that changes something is posted to the webhook
URL: `{"event": "record.created" | "record.updated", "actor": user, "record": {...},
"changed": {field: {"old": ..., "new": ...}}}` with `X-Echo-Delivery` (an id per delivery) and
`X-Echo-Signature: sha256=<hex HMAC of the body>`. `GET /_stats` counts the API's writes and
the webhooks in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import httpx
import orjson
from aiohttp import web

from incident_sync_echo.wire import DELIVERY, FIELDS, SIGNATURE, sign

STATUSES = ("open", "closed")


class Tool:
    def __init__(self, users: dict[str, str], webhook_url: str | None, secret: str) -> None:
        self.users = users  # token -> user
        self.webhook_url = webhook_url
        self.secret = secret
        self.records: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.pending = 0
        self.sent = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def user(self, request: web.Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = self.users.get(token) if scheme == "Bearer" else None
        if user is None:
            raise web.HTTPUnauthorized(
                text='{"error": "bad token"}', content_type="application/json"
            )
        return user

    def record(self, record_id: str) -> dict[str, Any]:
        found = self.records.get(record_id)
        if found is None:
            raise web.HTTPNotFound(
                text='{"error": "no such record"}', content_type="application/json"
            )
        return found

    @staticmethod
    async def fields(request: web.Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"error": "an object"}', content_type="application/json")
        given = {k: body[k] for k in FIELDS if k in body}
        for name, value in given.items():
            if value is not None and not isinstance(value, str):
                raise web.HTTPBadRequest(
                    text=orjson.dumps({"error": f"{name} must be a string"}).decode(),
                    content_type="application/json",
                )
        if given.get("status") not in (None, *STATUSES):
            raise web.HTTPBadRequest(
                text='{"error": "bad status"}', content_type="application/json"
            )
        for key in ("incident_id", "label"):
            if key in body:
                given[key] = str(body[key])
        return given

    # -- routes --------------------------------------------------------------------------
    async def list(self, request: web.Request) -> web.Response:
        self.user(request)
        wanted = request.query.get("incident_id")
        found = [r for r in self.records.values() if wanted is None or r["incident_id"] == wanted]
        return web.json_response({"records": found})

    async def get(self, request: web.Request) -> web.Response:
        self.user(request)
        return web.json_response(self.record(request.match_info["id"]))

    async def create(self, request: web.Request) -> web.Response:
        user = self.user(request)
        given = await self.fields(request)
        record_id = uuid.uuid4().hex
        record = {
            "id": record_id,
            "incident_id": given.get("incident_id"),
            "label": given.get("label"),
            "title": given.get("title") or "",
            "description": given.get("description") or "",
            "status": given.get("status") or "open",
            "version": 1,
            "updated_by": user,
        }
        self.records[record_id] = record
        self.writes += 1
        changed = {f: {"old": None, "new": record[f]} for f in FIELDS}
        self.notify("record.created", user, record, changed)
        return web.json_response(record, status=201)

    async def update(self, request: web.Request) -> web.Response:
        user = self.user(request)
        record = self.record(request.match_info["id"])
        given = await self.fields(request)
        self.writes += 1
        changed = {
            f: {"old": record[f], "new": given[f] or ""}
            for f in FIELDS
            if f in given and (given[f] or "") != record[f]
        }
        if changed:
            record.update({f: c["new"] for f, c in changed.items()})
            record["version"] += 1
            record["updated_by"] = user
            self.notify("record.updated", user, record, changed)
        return web.json_response(record)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "api_writes": self.writes,
                "webhooks_pending": self.pending,
                "webhooks_sent": self.sent,
            }
        )

    # -- webhooks ------------------------------------------------------------------------
    def notify(self, event: str, actor: str, record: dict[str, Any], changed: Any) -> None:
        if self.webhook_url is None:
            return
        body = orjson.dumps({"event": event, "actor": actor, "record": record, "changed": changed})
        self.pending += 1
        task = asyncio.get_running_loop().create_task(self._send(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            DELIVERY: uuid.uuid4().hex,
            SIGNATURE: sign(self.secret, body),
        }
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                for _ in range(20):  # the receiver may still be starting
                    try:
                        await client.post(str(self.webhook_url), content=body, headers=headers)
                        self.sent += 1
                        return
                    except httpx.TransportError:
                        await asyncio.sleep(0.5)
        finally:
            self.pending -= 1


def build_app(tool: Tool) -> web.Application:
    app = web.Application()
    app.router.add_get("/api/records", tool.list)
    app.router.add_post("/api/records", tool.create)
    app.router.add_get("/api/records/{id}", tool.get)
    app.router.add_patch("/api/records/{id}", tool.update)
    app.router.add_get("/_stats", tool.stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="incident_sync_echo.tool")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", action="append", default=[], help="NAME:TOKEN (repeatable)")
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret", default="")
    args = parser.parse_args()
    users = {token: name for name, _, token in (u.partition(":") for u in args.user)}
    tool = Tool(users, args.webhook_url, args.webhook_secret)
    web.run_app(build_app(tool), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
