"""Listing and retrying what a queue of entries holds, the same steps for the dead-letter
queue of an integration (`dlq`) and the quarantine of a tenant (`quarantine`): the filters of
a list, the request and answer of a bulk retry, and the retry itself.

A bulk retry goes oldest first (the index lists newest first), takes each entry out of its
index (one taken meanwhile is skipped) and publishes it; what went out is audited even when a
later entry is refused and the request answers that refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from incident_sync.control.api.errors import ApiError, json_response


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Listed = TypeVar("Listed", bound=Identified)
Entry = TypeVar("Entry", bound=Identified)


class Query(BaseModel):
    """The filters every queue's list takes; each queue adds its own."""

    model_config = ConfigDict(extra="forbid")

    contains: str | None = Field(
        None, max_length=200, description="the error contains this text (any case)"
    )
    limit: int = Field(100, ge=1, le=1000)


class RetryAll(BaseModel):
    """The filter every queue's bulk retry takes; each queue adds its own fields."""

    model_config = ConfigDict(extra="forbid")

    contains: str | None = Field(None, max_length=200, description="the error contains")
    limit: int = Field(1000, ge=1, le=10000)
    dry_run: bool = Field(False, description="list what would be retried, change nothing")


class Retried(BaseModel):
    dry_run: bool = False
    retried: list[str] = Field(description="entry ids published again (or that would be)")
    remaining: int = Field(description="entries left in the queue")


async def retry_each(
    matching: Sequence[Listed],
    take: Callable[[str], Awaitable[Entry | None]],
    publish: Callable[[Entry], Awaitable[None]],
    audit: Callable[[list[Entry]], Awaitable[None]],
) -> list[Entry]:
    """Take, publish and audit `matching` (newest first, as listed), oldest first; the
    entries published, in that order. A refused publish raises after the audit of those
    before it."""
    retried: list[Entry] = []
    try:
        for candidate in reversed(matching):
            entry = await take(candidate.id)
            if entry is None:
                continue  # taken meanwhile
            await publish(entry)
            retried.append(entry)
    finally:  # what went out before a refusal is audited too
        if retried:
            await audit(retried)
    return retried


def unavailable(exc: BaseException) -> ApiError:
    """The broker did not take the retry (the entry is back in its index)."""
    return ApiError(503, "unavailable", f"the retry could not be queued: {type(exc).__name__}")


def answer(result: Retried) -> web.Response:
    """200 for a dry run (nothing changed), else 202 (published, processed later)."""
    return json_response(result.model_dump(mode="json"), status=200 if result.dry_run else 202)
