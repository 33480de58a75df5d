"""Console sessions: an opaque random cookie value; Redis keeps, under its SHA-256, the
SHA-256 of the API token that signed in and the session's CSRF token, for a time renewed by
each request. The token itself is never stored: each request looks its digest up again, so a
revoked token ends its sessions at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from incident_sync.control.auth import Subject, Tokens, digest
from incident_sync.syncstate import keys


@dataclass(frozen=True)
class Session:
    subject: Subject
    csrf: str

    def csrf_ok(self, given: str | None) -> bool:
        """Whether a form's CSRF token is this session's (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _key(session_id: str) -> str:
    return keys.console_session(hashlib.sha256(session_id.encode()).hexdigest())


class Sessions:
    def __init__(self, redis: Redis, tokens: Tokens, ttl_s: int) -> None:
        self.redis = redis
        self.tokens = tokens
        self.ttl_s = ttl_s

    async def create(self, token: str) -> tuple[str, Session] | None:
        """A new session for a valid API token: its cookie value and the session; None for a
        token that authenticates nobody."""
        subject = await self.tokens.authenticate(token)
        if subject is None:
            return None
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        record = {"token": digest(token), "csrf": csrf}
        await self.redis.set(_key(session_id), orjson.dumps(record), ex=self.ttl_s)
        return session_id, Session(subject, csrf)

    async def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value (its expiry renewed), or None: unknown,
        expired, or its token revoked since."""
        if not session_id or len(session_id) > 100:
            return None
        key = _key(session_id)
        raw = await self.redis.get(key)
        if raw is None:
            return None
        record = orjson.loads(raw)
        subject = await self.tokens.authenticate_digest(str(record["token"]))
        if subject is None:
            await self.redis.delete(key)
            return None
        await self.redis.expire(key, self.ttl_s)
        return Session(subject, str(record["csrf"]))

    async def drop(self, session_id: str | None) -> None:
        if session_id:
            await self.redis.delete(_key(session_id))
