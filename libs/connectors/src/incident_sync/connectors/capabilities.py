"""What a connector can do, one role per class: a connector class is a `Connector` (the record
store every side is) plus the roles its tool has, and the pipeline asks `isinstance` before
using one. A tool without a role does not implement it: Slack, a notifier, has no webhook
interface to refuse.

- `Connector` (`connectors.base`), the **record store**: read a record, find the one linked
  to an incident, create, update, batch reads, field limits. Every connector is one.
- `WebhookSource`: the tool sends webhooks; `verify` and `parse` them (the ingress).
  Without it the ingress answers 401 to a delivery for the side, and delivery knows no echo
  of a write will come back.
- `CommentThread`: the tool keeps comments with ids; `add_comment` returns the new id (the
  delivery maps it), `edit_comment` / `delete_comment` where `supports_comment_edits`.
  Without it a comment is appended through `update(..., {"comment": ...})`.
- `ChangeFeed`: the tool lists the records changed since a time (`changed_since`, linked
  ones: the reconciler's polling fallback; `recent`, linked or not: what linking existing
  records matches). Without it the poller reports the side `unsupported`.
- `FieldCatalogue`: the tool lists its fields (`fields`: name, kind, required, allowed values,
  length limit, read from the tool itself: `im integration fields`), so field mappings can be
  checked against them when written.
- `Notifier`: the tool only shows incidents: nothing comes back from it, so it has no
  webhooks and no change feed, and its spec forces the direction `outbound`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar, Final

from incident_sync.connectors.base import Connector, RecordState, ToolError
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent


class Role(abc.ABC):
    """A role is mixed into a `Connector`: it has the side's config."""

    config: IntegrationConfig


class WebhookSource(Role):
    """CPU only, on the ingress's hot path: check the raw bytes, then parse them."""

    @abc.abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        """Raise WebhookRejected(401) unless the raw body is signed by the configured secret.

        `headers` must be case-insensitive (aiohttp / multidict / httpx headers).
        """

    @abc.abstractmethod
    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        """Turn a verified delivery into change events.

        Raise WebhookRejected(400 or 422) with a reason for a malformed payload; return an
        empty list for a well-formed event this service does not sync (e.g. a follow-up).
        """


class CommentThread(Role):
    """Comments with ids: each copy we write is mapped id to id (`outbound.comments`)."""

    # Whether a copy can follow its source's edits and deletes.
    supports_comment_edits: ClassVar[bool] = False

    @abc.abstractmethod
    async def add_comment(self, external_id: str, body: str) -> str | None:
        """Append a comment (cut to fit); returns the tool's id of the new comment."""

    async def edit_comment(self, external_id: str, comment_id: str, body: str) -> None:
        raise ToolError(f"{self.config.type} comments cannot be edited", retryable=False)

    async def delete_comment(self, external_id: str, comment_id: str) -> None:
        raise ToolError(f"{self.config.type} comments cannot be deleted", retryable=False)


class ChangeFeed(Role):
    @abc.abstractmethod
    async def changed_since(self, since: datetime) -> list[RecordState]:
        """The records changed at or after `since` (the polling fallback for missed
        webhooks), comments included."""

    @abc.abstractmethod
    async def recent(self, since: datetime) -> list[RecordState]:
        """Every record created or changed at or after `since`, linked to an incident or
        not (what `im integration link --auto` matches), as the tool's own search lists
        them; comments are not read."""


class FieldCatalogue(Role):
    @abc.abstractmethod
    async def fields(self) -> list[ToolField]:
        """The fields of the records this integration syncs (its table, project and issue
        type, ...), as the tool describes them; a ToolError when the tool cannot be asked."""


class Notifier(Role):
    """Shows the platform's incidents; takes nothing in (no webhooks, no change feed)."""


ROLES: Final[Mapping[str, type]] = {
    "record store": Connector,
    "webhook source": WebhookSource,
    "comment thread": CommentThread,
    "change feed": ChangeFeed,
    "field catalogue": FieldCatalogue,
    "notifier": Notifier,
}


def roles(connector: type[Connector]) -> tuple[str, ...]:
    """The roles a connector class implements, in `ROLES`' order."""
    return tuple(name for name, role in ROLES.items() if issubclass(connector, role))
